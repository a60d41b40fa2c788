"""Result parameters (FHIR R4 §3.1.1.5.x): _count, _offset, _sort, _include, _revinclude, _total,
_summary, _elements, _contained, _containedType, _type, and the paging token ``_page``."""

from __future__ import annotations

from fhir_server.core.errors import TooCostly
from fhir_server.core.numbers import bounded_int
from fhir_server.search.parse_state import ParseState, Unknown, lookup
from fhir_server.search.request import MAX_OFFSET, PAGE_PARAM, Include, SortKey
from fhir_server.search.values import ValueError_

RESULT_PARAMS = frozenset({"_count", "_offset", "_sort", "_include", "_revinclude", "_total", "_summary",
                           "_elements", "_contained", "_containedType", "_type", PAGE_PARAM})
_CHOICES = {
    "_total": ("total", ("none", "estimate", "accurate")),
    "_summary": ("summary", ("true", "text", "data", "count", "false")),
    "_contained": ("contained", ("true", "false", "both")),
    "_containedType": ("contained_type", ("container", "contained")),
}
NOT_SORTABLE = frozenset({"composite", "special"})


# What a search answers without searching inside contained resources (see docs/decisions.md)
_DEFAULTS_ONLY = {"_contained": "false", "_containedType": "container"}


def apply_result_param(state: ParseState, name: str, modifier: str | None, value: str) -> None:
    if name in _CHOICES:
        field, allowed = _CHOICES[name]
        if value not in allowed:
            raise ValueError_(f"'{value}' is not one of {', '.join(allowed)}")
        if name in _DEFAULTS_ONLY and value != _DEFAULTS_ONLY[name]:
            raise Unknown(f"'{name}={value}' is not supported: this server does not search inside contained "
                          f"resources (results are the top-level resources, as with {name}="
                          f"{_DEFAULTS_ONLY[name]})")
        state.result[field] = value
    elif name in ("_count", "_offset"):
        state.result["count" if name == "_count" else "offset"] = _count(state, name, value)
    elif name == PAGE_PARAM:
        state.result["page"] = value
    elif name == "_elements":
        state.result["elements"] = tuple(e.strip() for e in value.split(",") if e.strip())
    elif name == "_type":
        _types(state, value)
    elif name == "_sort":
        state.result["sort"] = tuple(_sort_key(state, k.strip()) for k in value.split(",") if k.strip())
    else:
        _include(state, name == "_revinclude", modifier, value)


def _count(state: ParseState, name: str, value: str) -> int:
    number = bounded_int(value, MAX_OFFSET)
    if number is None:
        raise ValueError_(f"'{value[:40]}' is not a non-negative integer up to {MAX_OFFSET}")
    return min(number, state.limits.max_count) if name == "_count" else number


def _types(state: ParseState, value: str) -> None:
    types = tuple(t.strip() for t in value.split(",") if t.strip())
    for t in types:
        if not state.registry.is_resource_type(t):
            raise ValueError_(f"'{t}' is not a resource type")
    state.result["types"] = types


def _sort_key(state: ParseState, key: str) -> SortKey:
    descending = key.startswith("-")
    param = lookup(state, state.resource_type, key.lstrip("-"))
    if param.type in NOT_SORTABLE:
        raise ValueError_(f"'{param.code}' cannot be used to sort")
    return SortKey(param, descending)


def _include(state: ParseState, reverse: bool, modifier: str | None, value: str) -> None:
    if modifier not in (None, "iterate", "recurse"):
        raise Unknown(f"Unknown modifier ':{modifier}' on _include")
    includes = list(state.result.get("includes", ()))
    if len(includes) >= state.limits.max_includes:
        raise TooCostly(f"At most {state.limits.max_includes} _include/_revinclude", expression=("_include",))
    iterate = modifier is not None
    if value == "*":
        includes.append(Include(state.resource_type or "*", None, None, iterate, reverse))
    else:
        parts = value.split(":")
        if len(parts) not in (2, 3) or not state.registry.is_resource_type(parts[0]):
            raise ValueError_(f"'{value}' is not SourceType:parameter[:TargetType]")
        param = None if parts[1] == "*" else lookup(state, parts[0], parts[1])
        if param is not None and param.type != "reference":
            raise ValueError_(f"'{parts[1]}' is not a reference parameter")
        target = parts[2] if len(parts) == 3 else None
        includes.append(Include(parts[0], param, target, iterate, reverse))
    state.result["includes"] = tuple(includes)
