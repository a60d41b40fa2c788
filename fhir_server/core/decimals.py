"""FHIR decimals as written (FHIR R4 §2.24.0.1 decimal: "the precision of the decimal value
has significance"): ``1.50`` is not ``1.5``, ``66.89999999999999`` is not rounded, ``1.0E+2``
keeps its exponent.

A JSON parser turns every such number into a float and loses the text.  A
:class:`FhirDecimal` is a float (arithmetic, comparisons and type checks are unchanged) that
keeps the text it was read from and writes it back verbatim.  Only numbers whose float would
print differently become one; ``66.5`` stays a plain float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Self


class FhirDecimal(float):
    """A float that remembers its decimal text (``str()``/``repr()`` give the text back)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Self:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return FhirDecimal, (self.text,)

    def __copy__(self) -> FhirDecimal:
        return self

    def __deepcopy__(self, memo: dict) -> FhirDecimal:
        return self


def exact_number(text: str) -> float:
    """The value of a decimal literal: a plain float when its shortest text is ``text``, else a
    :class:`FhirDecimal` that keeps ``text``."""
    number = float(text)
    return number if repr(number) == text else FhirDecimal(text)


# A JSON number literal, in ASCII digits (a decimal's text is written into JSON verbatim).
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def decimal_from_text(text: str) -> float:
    """A decimal read from outside JSON (a CSV cell, an HL7 v2 NM field) with its precision:
    ``"1.50"`` stays ``1.50``, ``"+.5"`` becomes ``0.5``, ``"０.５０"`` becomes ``0.50``.
    Raises ValueError when ``text`` is not a finite number."""
    text = text.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return exact_number(text if _JSON_NUMBER.fullmatch(text) else format(number, "f"))


def decimal_text(value: float) -> str:
    """The decimal's text as it is to be written (what was read, or the shortest float text)."""
    return value.text if isinstance(value, FhirDecimal) else repr(value)


def keeps_text(text: str) -> bool:
    """Whether ``text`` reads back as itself from a float (so a plain float carries it)."""
    try:
        return repr(float(text)) == text
    except ValueError:  # not a number after all (digits inside a string)
        return False
