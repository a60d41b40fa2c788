"""Resource → index rows (FHIR R4 §3.1.1.4): what each search parameter extracts from a resource.

Pure Python, shared by the SQL indexer and the in-memory twin.  The work per resource type
(its parameters, their compiled expressions and type modules) is planned once per registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir_server.search import fulltext, pinyin
from fhir_server.search.expression import compile_expression
from fhir_server.search.params import KINDS, composite
from fhir_server.search.registry import ParamRegistry, SearchParam

# answered from the resource table's own columns by the SQL engine
COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})

Plan = list[tuple[SearchParam, Any, Callable[[Any], list]]]


def plan(registry: ParamRegistry, res_type: str) -> Plan:
    """(param, type module, evaluator) for every indexed parameter of ``res_type``."""
    cache = registry.__dict__.setdefault("_plans", {})
    found = cache.get(res_type)
    if found is None:
        found = [(p, KINDS[p.type], compile_expression(p.expression, res_type))
                 for p in registry.for_type(res_type).values() if p.indexed]
        cache[res_type] = found
    return found


def index_entries(registry: ParamRegistry, res_type: str, resource: dict,
                  skip: frozenset[str] = COLUMN_PARAMS) -> dict[str, list[dict]]:
    """Parameter code → its index rows (column → value) for ``resource``."""
    entries: dict[str, list[dict]] = {}
    for param, kind, evaluate in plan(registry, res_type):
        if param.code in skip:
            continue
        if kind is composite:
            rows = composite.index_rows_for(param, res_type, resource, registry)
        else:
            nodes = evaluate(resource)
            rows = _rows(nodes, kind)
            if pinyin.applies(res_type, param.code):
                spelled = _pinyin_rows(nodes)
                if spelled:
                    entries[pinyin.index_code(param.code)] = spelled
        if rows:
            entries[param.code] = rows
    return entries


def base_code(index_code: str) -> str:
    """The parameter an entry key belongs to (``name:pinyin`` → ``name``)."""
    return index_code.partition(":")[0]


def _pinyin_rows(nodes: list) -> list[dict]:
    spellings: dict[str, None] = {}
    for value, _type in nodes:
        spellings.update((s[:255], None) for s in pinyin.spellings_of_node(value))
    return [{"value": s, "exact": s} for s in spellings]


def text_entries(resource: dict) -> dict[str, list[str]]:
    """``_text`` / ``_content`` → tokens (kept in their own table, see :mod:`.fulltext`)."""
    return fulltext.entries(resource)


def _rows(nodes: list, kind: Any) -> list[dict]:
    rows: list[dict] = []
    for node in nodes:
        rows.extend(kind.index_rows(node))
    return _unique(rows) if len(rows) > 1 else rows


def _unique(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for row in rows:
        key = tuple(row.values())
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def kinds_of(registry: ParamRegistry, res_type: str) -> frozenset[str]:
    """The parameter types ``res_type`` has, i.e. the index tables its rows can be in."""
    return frozenset(param.type for param, _, _ in plan(registry, res_type))
