"""Value normalisation of legacy records: what people really type into the forms.

Dates (2016-12-14, 2016/12/14, 20161214, 2016年12月14日, 2016.12.14, Excel dates),
full-width digits and punctuation (NFKC), 15-digit 身份证号 upgraded to 18 characters
with the GB 11643 check character, sex as a code or 男/女, codes given by name, blank
cells and trailing spaces, second-edition (2011) codes translated to the 2017 ones (the
original is kept in ``record["_original"]``).  Then the record is checked against the
form's JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

import jsonschema

from fhir_server.core.decimals import decimal_from_text
from fhir_server.core.national_ids import canonical_id

from . import messages, tables

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SPLIT = re.compile(r"\s*[、,;；，/|]\s*")
_BLANK = {"", "-", "—", "/", "无记录", "null", "NULL", "None"}


class RecordError(Exception):
    """One bad value: the field's header, the raw value and the reason."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def clean(value: object) -> str | None:
    """Trim, NFKC (full-width → ASCII, ideographic space), None for a blank cell."""
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return None if text in _BLANK else text


def parse_date(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = clean(value) or ""
    m = _DATE.match(text) or _COMPACT.match(text)
    if not m:
        raise ValueError(f"not a date (expected e.g. 2016-12-14, 2016/12/14, 20161214, 2016年12月14日): {text!r}")
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise ValueError(f"no such day: {text!r}") from None


def _number(text: str, integer: bool):
    text = text.replace(",", "")
    for unit in ("mmHg", "mmol/L", "kg", "次/分钟", "次/分", "元", "支", "两", "%", "分钟", "次"):
        if text.endswith(unit):
            text = text[: -len(unit)].strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if integer:
        if number != number.to_integral_value():
            raise ValueError(f"not a whole number: {text!r}")
        return int(number)
    return int(number) if number == number.to_integral_value() and "." not in text else decimal_from_text(text)


def _code(fld: tables.Field, text: str, edition: str, original: dict) -> str:
    lists = tables.code_lists()
    if edition == "2011" and fld.codes and f"{fld.codes}-2011" in lists:
        old = lists[f"{fld.codes}-2011"]
        code = old.resolve(text)
        if code is None:
            raise ValueError(f"{text!r} is not a code of the 2011 list {old.name} ({_choices(old)})")
        target = tables.translate(old.system, code)
        if target is None:
            raise ValueError(f"no 2017 equivalent of the 2011 code {code!r}")
        original[fld.key] = code
        return target["code"]
    cl = lists[fld.codes]
    code = cl.resolve(text)
    if code is None:
        raise ValueError(f"{text!r} is not in the code list {cl.name} ({_choices(cl)})")
    return code


def _choices(cl: tables.CodeList) -> str:
    items = [f"{c.code} {c.display}" for c in cl.codes.values()]
    return "; ".join(items[:12]) + ("; …" if len(items) > 12 else "")


def convert(fld: tables.Field, raw: object, edition: str, original: dict):
    """The normalised JSON value of one cell (None for blank)."""
    if fld.type == "date":
        return None if clean(raw) is None else parse_date(raw)
    kind = fld.type
    if kind == "text":  # Chinese punctuation in free text stays as typed
        text = raw.isoformat() if isinstance(raw, (dt.date, dt.datetime)) else str(raw) if raw is not None else ""
        text = " ".join(text.replace("\u3000", " ").split())
        return None if text in _BLANK else text
    if kind == "codes" and isinstance(raw, list):  # JSON: an array of codes
        codes = []
        for part in raw:
            item = clean(part)
            if item and (code := _code(fld, item, edition, original)) not in codes:
                codes.append(code)
        return codes
    cleaned = clean(raw)
    if cleaned is None:
        return None
    text = cleaned
    if kind == "idcard":
        return canonical_id(text)
    if kind in ("record17", "uscc"):
        return text.upper().replace(" ", "")
    if kind == "phone":
        return text.replace(" ", "")
    if kind == "int":
        return _number(text, True)
    if kind in ("decimal", "money"):
        return _number(text, False)
    if kind == "code":
        return _code(fld, text, edition, original)
    if kind == "codes":
        codes = []
        for part in _SPLIT.split(text):
            if part:
                code = _code(fld, part, edition, original)
                if code not in codes:
                    codes.append(code)
        return codes
    raise AssertionError(f"unknown field type {kind}")


_VALIDATORS: dict[str, jsonschema.protocols.Validator] = {}


def validator(record_type: str) -> jsonschema.protocols.Validator:
    if record_type not in _VALIDATORS:
        s = tables.schema(record_type)
        cls = jsonschema.validators.validator_for(s)
        cls.check_schema(s)
        _VALIDATORS[record_type] = cls(s)
    return _VALIDATORS[record_type]


def normalise(record_type: str, raw: dict) -> tuple[dict, list[RecordError]]:
    """(normalised record, errors).  ``raw`` maps a column header (or field key) to a cell."""
    f = tables.form(record_type)
    errors: list[RecordError] = []
    record: dict = {}
    original: dict = {}
    cells: dict[str, tuple[tables.Field, object]] = {}
    for name, value in raw.items():
        if name is None:
            continue
        key = clean(name) or ""
        fld = f.field_for(key)
        if fld is None:
            if value not in (None, ""):
                guess = f.suggest(key)
                errors.append(RecordError(key, value, f"column {key} is not a column of {f.title}"
                                          + (f" (did you mean {guess}?)" if guess else "")))
            continue
        cells[fld.key] = (fld, value)
    edition = clean(cells["edition"][1]) if "edition" in cells else None
    edition = edition or "2017"
    failed: set[str] = set()
    for key, (fld, value) in cells.items():
        try:
            converted = convert(fld, value, edition, original) if key != "edition" else clean(value)
        except ValueError as exc:
            errors.append(RecordError(fld.header, value, messages.must_be(fld, value, messages.detail_of(fld, exc))))
            failed.add(key)
            continue
        if converted is not None and converted != []:
            record[key] = converted
    for error in validator(record_type).iter_errors(record):
        if not failed or not _about(error, failed):  # a cell that could not be read is reported once
            errors.append(_schema_error(f, record, error))
    if original:
        record["_original"] = original
    return record, errors


def _about(error: jsonschema.ValidationError, keys: set[str]) -> bool:
    """Whether a schema error concerns one of ``keys`` (or is a "required"/"anyOf" a bad cell caused)."""
    if error.path and error.path[0] in keys:
        return True
    if error.validator == "anyOf":
        return bool(keys & {"id_number", "record_no"})
    return error.validator in ("required", "dependentRequired") and any(f"'{key}'" in error.message for key in keys)


def _schema_error(f: tables.Form, record: dict, error: jsonschema.ValidationError) -> RecordError:
    if error.validator == "required":
        key = re.search(r"'([^']+)' is a required property", error.message)
        fld = f.by_key.get(key[1]) if key else None
        if fld is None:
            return RecordError("", "", error.message)
        return RecordError(fld.header, "", f"{fld.header} is required (the column is missing or the cell is empty)")
    if error.validator == "anyOf":
        return RecordError("身份证号", "", "身份证号 or 档案编号 is required")
    if error.validator == "dependentRequired":
        names = re.findall(r"'([^']+)'", error.message)  # "'needed' is a dependency of 'given'"
        if len(names) == 2 and all(n in f.by_key for n in names):
            needed, given = (f.by_key[n] for n in names)
            return RecordError(given.header, record.get(given.key, ""),
                               f"{given.header} is given without {needed.header}")
        return RecordError("", "", f"incomplete values: {error.message}")
    key = error.path[0] if error.path else None
    fld = f.by_key.get(key) if isinstance(key, str) else None
    if fld is not None:
        return RecordError(fld.header, record.get(key, ""), messages.must_be(fld, record.get(key, "")))
    return RecordError(str(key), record.get(key, ""), error.message)
