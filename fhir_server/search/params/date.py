"""Date search (FHIR R4 §3.1.1.4.3): every value is a range at its precision (``1950`` is all of
1950), compared with eq ne gt lt ge le sa eb ap.  date, dateTime and instant index their own
precision; Period indexes [start, end] (open ends unbounded); Timing each event and its bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fhir_server.search.params._ranges import compare
from fhir_server.search.values import MAX_DATE, MIN_DATE, ValueError_, date_range, shift, split_prefix
from fhir_server.storage.index_tables import DateIndex

TABLE = DateIndex.__table__
MODIFIERS: frozenset[str] = frozenset()
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("low", "high")


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    low: Any  # datetime (or epoch seconds inside a composite)
    high: Any
    approx: tuple[Any, Any]


def parse(raw: str, modifier: str | None, now: datetime | None = None) -> DateValue:
    prefix, text = split_prefix(raw)
    low, high = date_range(text)
    margin = max(abs((now or _now()) - low) / 10, timedelta(days=1))
    return DateValue(prefix, low, high, (shift(low, -margin), shift(high, margin)))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    value, _ = node
    if isinstance(value, str):
        return _rows([_safe_range(value)])
    if not isinstance(value, dict):
        return []
    if "start" in value or "end" in value:
        return _rows([_period(value)])
    if "event" in value or "repeat" in value:
        events = [_safe_range(e) for e in value.get("event", ()) if isinstance(e, str)]
        bounds = value.get("repeat", {}).get("boundsPeriod")
        return _rows(events + ([_period(bounds)] if isinstance(bounds, dict) else []))
    return []


def _period(period: dict) -> tuple[datetime, datetime] | None:
    start = _safe_range(period["start"]) if isinstance(period.get("start"), str) else (MIN_DATE, MIN_DATE)
    end = _safe_range(period["end"]) if isinstance(period.get("end"), str) else (MAX_DATE, MAX_DATE)
    return (start[0], end[1]) if start and end else None


def _safe_range(text: str) -> tuple[datetime, datetime] | None:
    try:
        return date_range(text)
    except ValueError_:
        return None


def _rows(ranges: list) -> list[dict]:
    return [{"low": r[0], "high": r[1]} for r in ranges if r]


def condition(t: Any, v: DateValue, modifier: str | None) -> Any:
    return compare(v.prefix, t.c.low, t.c.high, v.low, v.high, v.approx, None, sql=True, closed_target=False)


def matches(row: dict, v: DateValue, modifier: str | None) -> bool:
    return compare(v.prefix, row["low"], row["high"], v.low, v.high, v.approx, None, sql=False,
                   closed_target=False)


def to_epoch(value: DateValue) -> DateValue:
    """The same value in epoch seconds, as composite rows store dates."""
    return DateValue(value.prefix, epoch(value.low), epoch(value.high), (epoch(value.approx[0]),
                                                                         epoch(value.approx[1])))


def epoch(value: datetime) -> float:
    return (value - datetime(1970, 1, 1)).total_seconds()
