"""Number search (FHIR R4 §3.1.1.4.1): ``eq`` uses the implicit precision of the value written
(``100`` is [99.5, 100.5)); gt lt sa eb compare with the value itself, ge and le with the value
itself or as eq (``ge100`` takes 99.7); ``ap`` is ±10 %.
A Range indexes [low, high]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.search.params._ranges import compare
from fhir_server.search.values import parse_decimal, split_prefix
from fhir_server.storage.index_tables import NumberIndex

TABLE = NumberIndex.__table__
MODIFIERS: frozenset[str] = frozenset()
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("low", "high")


@dataclass(frozen=True, slots=True)
class NumberValue:
    prefix: str
    value: float
    low: float
    high: float

    @property
    def approx(self) -> tuple[float, float]:
        margin = abs(self.value) / 10
        return self.value - margin, self.value + margin


def parse(raw: str, modifier: str | None) -> NumberValue:
    prefix, text = split_prefix(raw)
    return NumberValue(prefix, *parse_decimal(text))


def bounds(value: Any) -> tuple[float, float] | None:
    """[low, high] of a number, a Quantity-like {value} or a Range {low, high}."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value), float(value)
    if isinstance(value, str):
        try:
            return parse_decimal(value)[0], parse_decimal(value)[0]
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("value"), (int, float)):
        return float(value["value"]), float(value["value"])
    if isinstance(value, dict) and ("low" in value or "high" in value):
        low, high = value.get("low", {}).get("value"), value.get("high", {}).get("value")
        return (float(low) if low is not None else -1e308, float(high) if high is not None else 1e308)
    return None


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    found = bounds(node[0])
    return [{"low": found[0], "high": found[1]}] if found else []


def condition(t: Any, v: NumberValue, modifier: str | None) -> Any:
    return compare(v.prefix, t.c.low, t.c.high, v.low, v.high, v.approx, v.value, sql=True, closed_target=True)


def matches(row: dict, v: NumberValue, modifier: str | None) -> bool:
    return compare(v.prefix, row["low"], row["high"], v.low, v.high, v.approx, v.value, sql=False,
                   closed_target=True)

