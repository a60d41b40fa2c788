"""Base invariants checked in Python because their FHIRPath compares date/times (FHIR R4
datatypes.html; fhirpath.html §"Comparison", date/time precision).

per-1 ``start.hasValue().not() or end.hasValue().not() or (start <= end)`` runs on every write,
so it must compare instants, not strings: ``10:00+08:00`` is before ``03:00Z``.  As FHIRPath
says, values are compared at the precision both have; when they agree that far but one is more
precise, the comparison is empty (the invariant holds): ``2024`` to ``2024-03-01`` passes.

qty-3 ``code.empty() or system.exists()`` is on every Quantity (four in each family-doctor Contract):
what the compiled FHIRPath does, without its closures (issue 19).

The IG's jiayi-ctr-1 (a contract runs one to three years) does date arithmetic the compiler does
not cover; it runs on every profiled Contract, so it is done here too (full dates; anything else
goes to the engine).  jiayi-ctr-3 (the "1+1+1" combination names each hospital level once) runs on
every profiled Contract too: plain strings are answered here, anything else (a date-like or
extended value) by the compiled FHIRPath.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from fhir_server.validation.invariant_values import children_of

HOSPITAL = "https://jiayi.dev/fhir/StructureDefinition/jiayi-combination-hospital"


def _parts(value: str) -> tuple[tuple[int, ...], datetime | None] | None:
    """(the calendar parts given, the instant when a time is given), or None if unreadable."""
    date, _, time = value.partition("T")
    try:
        parts = tuple(int(p) for p in date.split("-"))
        instant = datetime.fromisoformat(value) if time else None  # 3.11 reads Z
    except ValueError:
        return None
    if instant is not None and instant.tzinfo is None:
        return None  # R4 requires a zone with a time; leave it to the engine
    return parts, instant


def per_1(period: object) -> bool | None:
    """True / False, or None when it cannot be decided here (the engine decides then)."""
    if not isinstance(period, dict):
        return True
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return True  # a bound without a value: hasValue() is false
    a, b = _parts(start), _parts(end)
    if a is None or b is None:
        return None
    if a[1] is not None and b[1] is not None:
        return a[1] <= b[1]
    common = min(len(a[0]), len(b[0]))
    if a[0][:common] != b[0][:common]:
        return a[0][:common] < b[0][:common]
    if a[1] is None and b[1] is None and len(a[0]) == len(b[0]):
        return True  # the same date
    return True  # equal as far as both go, different precision: empty, so the invariant holds


def qty_3(quantity: object) -> bool:
    """qty-3: a Quantity with a code names its system (``code`` and ``system`` as FHIRPath reads
    them: a value, or an extended primitive ``_code``)."""
    return not children_of(quantity, "code") or bool(children_of(quantity, "system"))


def _plus_years(day: date, years: int) -> date:
    """FHIRPath ``+ N years`` on a date: the same day N years on (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def contract_term(contract: object) -> bool | None:
    """jiayi-ctr-1: a contract in force runs at least a year (minus a day) and at most three years.
    Full dates only; a partial date or a dateTime is left to the engine (None)."""
    if not isinstance(contract, dict) or contract.get("status") in ("terminated", "cancelled", "entered-in-error"):
        return True
    applies = contract.get("applies")
    if not isinstance(applies, dict) or "start" not in applies or "end" not in applies:
        return True
    start, end = applies["start"], applies["end"]
    if not (isinstance(start, str) and isinstance(end, str) and len(start) == len(end) == 10):
        return None
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return None
    return _plus_years(first, 1) - timedelta(days=1) <= last <= _plus_years(first, 3)


def distinct_hospital_levels(contract: object) -> bool | None:
    """jiayi-ctr-3 ``extension.where(url = HOSPITAL).extension.where(url = 'level').valueCode
    .isDistinct()`` on plain JSON: arrays of objects whose urls and codes are plain strings; None for
    anything else (a null, an ``_element``, a date-like string: the compiled FHIRPath decides)."""
    if not isinstance(contract, dict):
        return None
    levels: list[str] = []
    for ext in _plain_items(contract, "extension") or ():
        if ext is None:
            return None
        if ext["url"] == HOSPITAL:
            for part in _plain_items(ext, "extension") or ():
                if part is None:
                    return None
                if part["url"] == "level":
                    code = part.get("valueCode")
                    if not _plain(code) or "_valueCode" in part:
                        return None
                    levels.append(code)  # type: ignore[arg-type]
    return len(set(levels)) == len(levels)


def _plain_items(node: dict, key: str) -> list | None:
    """The items of an array of objects with a plain-string url (a None item when one is not)."""
    items = node.get(key)
    if items is None:
        return None if "_" + key not in node else [None]
    if not isinstance(items, list):
        return [None]
    return [item if isinstance(item, dict) and _plain(item.get("url")) and "_url" not in item else None
            for item in items]


def _plain(value: object) -> bool:
    """A string that compares with Python equality in FHIRPath (invariant_values.plain)."""
    return type(value) is str and not (value[:1].isdigit() and ("-" in value or ":" in value))


NATIVE: dict[str, Callable[[object], bool | None]] = {"per-1": per_1, "qty-3": qty_3}
# profile invariants checked in Python, by their exact expression (a profile that changes the
# expression is evaluated by the engine again)
NATIVE_EXPRESSIONS: dict[str, Callable[[object], bool | None]] = {
    "(status = 'terminated' or status = 'cancelled' or status = 'entered-in-error') or applies.start.empty() or "
    "applies.end.empty() or (applies.end >= applies.start + 1 year - 1 day and applies.end <= applies.start + "
    "3 years)": contract_term,
    f"extension.where(url = '{HOSPITAL}').extension.where(url = 'level').valueCode.isDistinct()":
        distinct_hospital_levels,
}
