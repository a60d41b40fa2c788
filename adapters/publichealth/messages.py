"""What a clinic's data clerk reads when a cell is refused: the form's Chinese field name, what
it must be in words (never a regular expression), and what the cell held."""

from __future__ import annotations

import re

from . import tables

EXPECTED = {
    "record17": "17 digits (6-digit county code, 3 township, 3 village, 5 serial)",
    "idcard": "an 18-character 身份证号 (17 digits and a check character 0-9 or X) or an old 15-digit one",
    "uscc": "the 18-character 统一社会信用代码 (digits and capital letters other than I, O, S, V, Z)",
    "phone": "a phone number (5 to 20 digits, with + or - allowed)",
    "int": "a whole number (e.g. 135)",
    "decimal": "a number (e.g. 62.5)",
    "money": "an amount in 元 (e.g. 120 or 35.5)",
    "date": "a date such as 2016-12-14, 2016/12/14, 20161214 or 2016年12月14日",
}
_DIGITS = re.compile(r"^\d+$")


def expected(fld: tables.Field) -> str:
    if fld.type in ("code", "codes"):
        cl = tables.code_lists()[fld.codes]
        items = [f"{c.code} {c.display}" for c in cl.codes.values()]
        choices = "; ".join(items[:12]) + ("; …" if len(items) > 12 else "")
        return ("one or more of " if fld.type == "codes" else "one of ") + choices
    return EXPECTED.get(fld.type, "a value")


def got(fld: tables.Field, value: object) -> str:
    text = "" if value is None else str(value).strip()
    if fld.type in ("record17", "idcard", "uscc"):
        if _DIGITS.match(text):
            return f"{len(text)} digits"
        return f"{len(text)} characters ({text!r})"
    return repr(text)


def must_be(fld: tables.Field, value: object, detail: str = "") -> str:
    """``档案编号 must be 17 digits (…); got 15 digits`` (+ the detail when it adds something)."""
    message = f"{fld.header} must be {expected(fld)}; got {got(fld, value)}"
    return f"{message} ({detail})" if detail else message


def detail_of(fld: tables.Field, error: Exception) -> str:
    """The part of a converter's message worth keeping (a check digit, a day that does not exist)."""
    text = str(error)
    if fld.type == "idcard" and ": " in text:
        return text.split(": ", 1)[1]
    if text.startswith("no such day"):
        return "no such day"
    if fld.type in ("code", "codes") and "2011" in text:
        return text
    return ""
