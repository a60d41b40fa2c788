"""Layer 2: values of the R4 primitive types (FHIR R4 §2, datatypes.html "Primitive Types").

The official JSON Schema carries a regex per primitive, but it cannot say everything, and
ECMA and Python regexes differ: Python's ``$`` also matches before a final newline
(``"abc\\n"`` passes ``^\\S*$`` under ``re.search``), and ``\\s`` covers different characters
(Python counts ``\\x1c``-``\\x1f`` as whitespace, ECMA counts ``\\ufeff``).  So the schema's
``pattern`` errors are not used; each primitive is checked here with ``re.fullmatch`` on
the same grammar, then for what no regex says: real calendar dates (no 2023-02-30),
32-bit integer ranges, no NaN/Infinity decimals.

Every pattern here is hand-checked to run in linear time under ``re`` (no repeat inside a
repeat, no ambiguous neighbouring repeats): they see every primitive of every write.

Each checker returns ``None`` when the value is acceptable, else a message that says what
was received and what is expected.  The JSON type itself (string vs number vs boolean) is
the schema's job and is not repeated here.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_TZ = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
DATE = re.compile(rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
DATETIME = re.compile(rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{_TIME}{_TZ})?)?)?")
INSTANT = re.compile(rf"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{_TIME}{_TZ}")
TIME = re.compile(_TIME)
ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
URI = re.compile(r"\S*")
OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")
UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# linear: "=" is outside the first class, so each character has one place to go (the schema's
# ``(\s*([0-9a-zA-Z\+\=]){4}\s*)+`` and the former ``[A-Za-z0-9+/\s]*=?\s*=?\s*`` backtrack
# with the cube of a run of spaces)
BASE64 = re.compile(r"[A-Za-z0-9+/\s]*(?:=\s*){0,2}")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
INT32 = (-(2**31), 2**31 - 1)

DATE_HINT = "YYYY, YYYY-MM or YYYY-MM-DD, e.g. 2023-02-28"
DATETIME_HINT = "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz, e.g. 2023-02-28T09:30:00+08:00"
INSTANT_HINT = "YYYY-MM-DDThh:mm:ss[.sss] with a time zone, e.g. 2023-02-28T09:30:00+08:00"


def _calendar(text: str) -> str | None:
    """The date part is a real day: 2023-02-30 and 2023-04-31 are refused, 2024-02-29 is fine."""
    if len(text) < 10:
        return None
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return f"{text[:10]} is not a calendar date: {calendar.month_name[month]} {year} has {last} days"
    return None


def check_date(value: str) -> str | None:
    if not DATE.fullmatch(value):
        return f"Invalid date {value!r}: expected {DATE_HINT} (no time, no time zone)"
    return _calendar(value)


def check_datetime(value: str) -> str | None:
    if not DATETIME.fullmatch(value):
        if "T" in value and not re.search(r"(Z|[+-]\d\d:\d\d)$", value):
            return f"Invalid dateTime {value!r}: a time needs seconds and a time zone ({DATETIME_HINT})"
        return f"Invalid dateTime {value!r}: expected {DATETIME_HINT}"
    return _calendar(value)


def check_instant(value: str) -> str | None:
    if not INSTANT.fullmatch(value):
        if not re.search(r"(Z|[+-]\d\d:\d\d)$", value):
            return f"Invalid instant {value!r}: an instant needs a full date, time and time zone ({INSTANT_HINT})"
        return f"Invalid instant {value!r}: expected {INSTANT_HINT}"
    return _calendar(value)


def check_time(value: str) -> str | None:
    if not TIME.fullmatch(value):
        return f"Invalid time {value!r}: expected hh:mm:ss[.sss] from 00:00:00 to 23:59:59, no time zone"
    return None


def _pattern(regex: re.Pattern, what: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not regex.fullmatch(value):
            return f"Invalid {what} {value!r}"
        return None
    return check


MAX_STRING_BYTES = 1024 * 1024  # datatypes.html#string: "strings SHALL NOT exceed 1MB in size"


def check_string(value: str) -> str | None:
    """json.html: a string is never empty or only whitespace; a few control characters are refused;
    datatypes.html: at most 1 MB (UTF-8 bytes)."""
    if not value.strip():
        return "Empty or whitespace-only string: omit the element instead (FHIR JSON: values are never empty)"
    if CONTROL.search(value):
        return "String contains control characters (only tab, CR and LF are allowed below U+0020)"
    if len(value) > MAX_STRING_BYTES // 4 and len(value.encode("utf-8")) > MAX_STRING_BYTES:
        return (f"String of {len(value.encode('utf-8')):,} bytes: R4 strings are at most 1 MB (1,048,576 bytes); "
                "send large content as an Attachment")
    return None


def check_base64(value: str) -> str | None:
    if not BASE64.fullmatch(value) or len(re.sub(r"\s", "", value)) % 4:
        return "Invalid base64Binary: expected base64 text (A-Z a-z 0-9 + /, padded with = to a multiple of 4)"
    return None


def check_integer(value: object, low: int = INT32[0]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            return f"Invalid integer {value!r}: expected a whole number without a decimal point"
        return None
    if not low <= value <= INT32[1]:
        bound = "at least 1" if low == 1 else "at least 0" if low == 0 else "a 32-bit integer"
        return f"Invalid integer {value}: must be {bound}"
    return None


def check_decimal(value: object) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"Invalid decimal {value!r}: NaN and Infinity are not numbers in FHIR"
    return None


STRING_CHECKS: dict[str, Callable[[str], str | None]] = {
    "date": check_date,
    "dateTime": check_datetime,
    "instant": check_instant,
    "time": check_time,
    "id": _pattern(ID, "id (1-64 characters: A-Z a-z 0-9 - .)"),
    "code": _pattern(CODE, "code (no leading, trailing or double whitespace)"),
    "uri": _pattern(URI, "uri (no whitespace)"),
    "url": _pattern(URI, "url (no whitespace)"),
    "canonical": _pattern(URI, "canonical (no whitespace)"),
    "oid": _pattern(OID, "oid (expected urn:oid:1.2.3...)"),
    "uuid": _pattern(UUID, "uuid (expected urn:uuid: and a lower-case UUID)"),
    "base64Binary": check_base64,
}
NUMBER_CHECKS: dict[str, Callable[[object], str | None]] = {
    "integer": check_integer,
    "positiveInt": lambda v: check_integer(v, 1),
    "unsignedInt": lambda v: check_integer(v, 0),
    "decimal": check_decimal,
}


def check_primitive(type_code: str, value: object) -> str | None:
    """The problem with ``value`` as an R4 ``type_code``, or None.  Wrong JSON types are skipped."""
    if isinstance(value, str):
        if not value.strip():
            return check_string(value)
        check = STRING_CHECKS.get(type_code)
        if check is not None:
            return check(value)
        if type_code in ("string", "markdown"):
            return check_string(value)
        return None
    number_check = NUMBER_CHECKS.get(type_code)
    return number_check(value) if number_check is not None else None


REMEMBERED: dict[tuple[str, str], str | None] = {}  # (type code, string) → primitive_issue()
MEMO_ENTRIES, MEMO_LENGTH = 50_000, 200


def primitive_issue(type_code: str, value: object) -> str | None:
    """:func:`check_primitive`, remembered for short strings: the same system, code, reference and
    date strings come back in every resource of a kind (issue 19)."""
    if type(value) is not str or len(value) > MEMO_LENGTH:
        return check_primitive(type_code, value)
    key = (type_code, value)
    try:
        return REMEMBERED[key]
    except KeyError:
        if len(REMEMBERED) >= MEMO_ENTRIES:
            REMEMBERED.clear()
        message = REMEMBERED[key] = check_primitive(type_code, value)
        return message
