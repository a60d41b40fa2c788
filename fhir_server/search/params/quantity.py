"""Quantity search (FHIR R4 §3.1.1.4.11): ``[prefix]number|system|code``; ``number||unit``
matches the code or the written unit.  Numbers compare as for number parameters; no unit
conversion (UCUM canonical forms are not computed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_

from fhir_server.search.params import number
from fhir_server.search.values import ValueError_, split_escaped, unescape
from fhir_server.storage.index_tables import SHORT, QuantityIndex

TABLE = QuantityIndex.__table__
MODIFIERS: frozenset[str] = frozenset()
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("low", "high")
CURRENCY = "urn:iso:std:iso:4217"


@dataclass(frozen=True, slots=True)
class QuantityValue:
    number: number.NumberValue
    system: str | None = None
    code: str | None = None


def parse(raw: str, modifier: str | None) -> QuantityValue:
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) not in (1, 3):
        raise ValueError_(f"'{raw}' is not number|system|code")
    value = number.parse(parts[0], None)
    return QuantityValue(value, parts[1] or None, parts[2] or None) if len(parts) == 3 else QuantityValue(value)


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    value = node[0]
    if not isinstance(value, dict):
        return []
    found = number.bounds(value)
    if found is None:
        return []
    unit_of = value if "value" in value else (value.get("low") or value.get("high") or {})
    system, code = unit_of.get("system"), unit_of.get("code")
    if "currency" in unit_of:
        system, code = CURRENCY, unit_of["currency"]
    return [{"system": _cut(system), "code": _cut(code), "unit": _cut(unit_of.get("unit")),
             "low": found[0], "high": found[1]}]


def _cut(value: Any) -> str | None:
    return str(value)[:SHORT] if value is not None else None


def condition(t: Any, v: QuantityValue, modifier: str | None) -> Any:
    terms = [number.condition(t, v.number, None)]
    if v.system:
        terms.append(t.c.system == v.system)
    if v.code:
        terms.append(t.c.code == v.code if v.system else or_(t.c.code == v.code, t.c.unit == v.code))
    return and_(*terms)


def matches(row: dict, v: QuantityValue, modifier: str | None) -> bool:
    if v.system and row["system"] != v.system:
        return False
    if v.code and row["code"] != v.code and (v.system or row["unit"] != v.code):
        return False
    return number.matches(row, v.number, None)
