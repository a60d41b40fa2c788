"""Composite search (FHIR R4 §3.1.1.4.14): ``code$value`` tests several components of the same
element together (``Observation?code-value-quantity=http://loinc.org|8480-6$gt140``).

One row per combination of component values; component *n* lives in columns ``a<n> b<n>
low<n> high<n>``.  Each component reuses its own type's ``condition``/``matches`` through a
column mapping, so token or quantity semantics stay in their modules.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_

from fhir_server.search.expression import compile_expression, compile_relative, result_path, split_union
from fhir_server.search.params import date, number, quantity, reference, string, token, uri
from fhir_server.search.values import ValueError_, split_escaped
from fhir_server.storage.index_tables import CompositeIndex

TABLE = CompositeIndex.__table__
MODIFIERS: frozenset[str] = frozenset()
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("b1", "b1")
MAX_ROWS = 64  # combinations indexed per element
_KINDS = {"token": token, "string": string, "reference": reference, "uri": uri, "quantity": quantity,
          "number": number, "date": date}
_COLUMNS = {  # component row field → composite column stem
    "token": {"system": "a", "code": "b"},
    "string": {"value": "b", "exact": "b"},
    "reference": {"target_type": "a", "target_id": "b"},
    "uri": {"value": "b"},
    "quantity": {"system": "a", "code": "b", "unit": "b", "low": "low", "high": "high"},
    "number": {"low": "low", "high": "high"},
    "date": {"low": "low", "high": "high"},
}
_DEFAULTS = {"text": None, "type_system": None, "type_code": None, "url": None, "ident_system": None,
             "ident_value": None}


@dataclass(frozen=True, slots=True)
class CompositeValue:
    parts: tuple[tuple[str, Any], ...]  # (component type, parsed value)


def component_types(param: Any, registry: Any) -> list[str]:
    found = [registry.by_url.get(c.definition) for c in param.components]
    if not found or any(p is None or p.type not in _KINDS for p in found):
        raise ValueError_(f"composite parameter '{param.code}' has components this server cannot search")
    return [p.type for p in found]


def parse(raw: str, param: Any, registry: Any) -> CompositeValue:
    types = component_types(param, registry)
    pieces = split_escaped(raw, "$")
    if len(pieces) != len(types):
        raise ValueError_(f"'{raw}' needs {len(types)} components separated by '$'")
    parts = []
    for kind, piece in zip(types, pieces, strict=True):
        value = _KINDS[kind].parse(piece, None)
        parts.append((kind, date.to_epoch(value) if kind == "date" else value))
    return CompositeValue(tuple(parts))


def index_rows_for(param: Any, res_type: str, resource: dict, registry: Any) -> list[dict]:
    """Rows for every element the composite's expression selects in ``resource``."""
    rows: list[dict] = []
    for select, components in _plan(param, res_type, registry):
        for node in select(resource):
            rows.extend(_combinations(node[0], components))
    return rows


def _combinations(node: Any, components: list[tuple[str, Any]]) -> list[dict]:
    per_component = []
    for n, (kind, evaluate) in enumerate(components, start=1):
        index_rows = _KINDS[kind].index_rows
        rows = [_to_columns(kind, n, row) for v in evaluate(node) for row in index_rows(v)]
        if not rows:
            return []
        per_component.append(rows)
    if len(per_component) == 2 and len(per_component[0]) * len(per_component[1]) <= MAX_ROWS:
        return [{**first, **second} for first in per_component[0] for second in per_component[1]]
    combos = itertools.islice(itertools.product(*per_component), MAX_ROWS)
    return [{k: v for part in combo for k, v in part.items()} for combo in combos]


def _plan(param: Any, res_type: str, registry: Any) -> list[tuple[Any, list[tuple[str, Any]]]]:
    """Per alternative of the expression: (its evaluator, [(component type, compiled component)]).

    Each alternative (``Observation | Observation.component``) selects a different element
    type, so components compile against each one separately; cached on the registry."""
    cache = registry.__dict__.setdefault("_composites", {})
    found = cache.get((param.url, res_type))
    if found is None:
        try:
            types = component_types(param, registry)
        except ValueError_:
            types = []
        found = []
        for part in split_union(param.expression or "") if types else ():
            select = compile_expression(part, res_type)
            start = result_path(part, res_type)
            components = zip(types, param.components, strict=True)
            found.append((select, [(k, compile_relative(c.expression, start)) for k, c in components]))
        cache[(param.url, res_type)] = found
    return found


def _to_columns(kind: str, n: int, row: dict) -> dict:
    """Component ``n``'s columns from one of its type's index rows: each column the first
    field mapped to it that has a value (dates as epoch seconds)."""
    fields = _FIELDS.get((kind, n))
    if fields is None:
        fields = _FIELDS[(kind, n)] = tuple((field, f"{stem}{n}") for field, stem in _COLUMNS[kind].items())
    out = dict.fromkeys((f"a{n}", f"b{n}", f"low{n}", f"high{n}"))
    for field, column in fields:
        if out[column] is None:
            value = row.get(field)
            if value is not None:
                out[column] = date.epoch(value) if kind == "date" else value
    return out


_FIELDS: dict[tuple[str, int], tuple[tuple[str, str], ...]] = {}  # (kind, n) → (row field, column), in order


def _view(kind: str, n: int, columns: Any) -> SimpleNamespace:
    mapped = {field: columns[f"{stem}{n}"] for field, stem in _COLUMNS[kind].items()}
    return SimpleNamespace(c=SimpleNamespace(**{**_DEFAULTS, **mapped}))


def condition(t: Any, v: CompositeValue, modifier: str | None) -> Any:
    return and_(*(_KINDS[kind].condition(_view(kind, n, t.c), value, None)
                  for n, (kind, value) in enumerate(v.parts, start=1)))


def matches(row: dict, v: CompositeValue, modifier: str | None) -> bool:
    for n, (kind, value) in enumerate(v.parts, start=1):
        component = {**_DEFAULTS, **{f: row[f"{stem}{n}"] for f, stem in _COLUMNS[kind].items()}}
        if any(component[f] is None for f in ("low", "high") if f in component) or not _KINDS[kind].matches(
                component, value, None):
            return False
    return True
