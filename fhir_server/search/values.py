"""Search value syntax shared by the parameter types (FHIR R4 §3.1.1.5, escaping, prefixes).

``\\,`` ``\\|`` ``\\$`` and ``\\\\`` escape the separators; prefixes apply to number, date and
quantity only.  Dates become half-open UTC ranges at the precision written.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
MIN_DATE = datetime(1, 1, 1)
MAX_DATE = datetime(9999, 12, 31, 23, 59, 59)
MAX_EXPONENT = 300  # a search number's magnitude: beyond it the index (a double) cannot compare


class ValueError_(ValueError):
    """A malformed search value; the parser turns it into BadRequest naming the parameter."""


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not escaped with a backslash; escapes are kept."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    return re.sub(r"\\([\\,|$])", r"\1", text)


def normalise(text: str) -> str:
    """Case- and accent-insensitive form used by string search (CJK characters are unchanged)."""
    if text.isascii():  # NFKD leaves ASCII as it is, none of it combines, and its casefold is lower()
        return text.lower()[:255]
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()[:255]


def split_prefix(raw: str) -> tuple[str, str]:
    if len(raw) > 2 and raw[:2] in PREFIXES and not raw[2].isalpha():
        return raw[:2], raw[2:]
    return "eq", raw


def parse_decimal(text: str) -> tuple[float, float, float]:
    """(value, low, high): the implicit range of a decimal written with this precision."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError_(f"'{text}' is not a number") from None
    if not number.is_finite():
        raise ValueError_(f"'{text}' is not a number")
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise ValueError_(f"'{text[:40]}' is out of range (at most 1e{MAX_EXPONENT} in magnitude)")
    half = Decimal(5).scaleb(int(number.as_tuple().exponent) - 1)
    value, low, high = float(number), float(number - half), float(number + half)
    # beyond a float's 17 digits the bounds round onto the value: keep [low, high) around it
    return value, min(low, value), high if high > value else math.nextafter(value, math.inf)


_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})"
    r"(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def date_range(text: str) -> tuple[datetime, datetime]:
    """[low, high) in naive UTC for a FHIR date, dateTime or instant at its written precision."""
    m = _DATE.fullmatch(text.strip())
    if m is None:
        raise ValueError_(f"'{text}' is not a valid date")
    try:
        low = datetime(int(m["y"]), int(m["m"] or 1), int(m["d"] or 1), int(m["H"] or 0), int(m["M"] or 0),
                       int(m["S"] or 0), int((m["f"] or "0")[:6].ljust(6, "0")))
    except ValueError:
        raise ValueError_(f"'{text}' is not a valid date") from None
    high = _add_precision(low, m)
    if m["tz"] and m["tz"] != "Z":
        sign = 1 if m["tz"][0] == "+" else -1
        offset = timedelta(hours=int(m["tz"][1:3]), minutes=int(m["tz"][4:6])) * sign
        low, high = shift(low, -offset), shift(high, -offset)
    return low, high


def _add_precision(low: datetime, m: re.Match) -> datetime:
    if m["f"]:
        return shift(low, timedelta(microseconds=10 ** max(0, 6 - len(m["f"]))))
    if m["S"]:
        return shift(low, timedelta(seconds=1))
    if m["M"]:
        return shift(low, timedelta(minutes=1))
    if m["d"]:
        return shift(low, timedelta(days=1))
    if m["m"]:
        return MAX_DATE if low.year == 9999 and low.month == 12 else (
            low.replace(year=low.year + 1, month=1) if low.month == 12 else low.replace(month=low.month + 1))
    return MAX_DATE if low.year == 9999 else low.replace(year=low.year + 1)


def shift(value: datetime, delta: timedelta) -> datetime:
    try:
        return value + delta
    except OverflowError:
        return MAX_DATE if delta > timedelta(0) else MIN_DATE


def utc_naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def like_escape(text: str) -> str:
    """``text`` with LIKE wildcards escaped (use with ``escape='\\\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
