"""ValueSet expansion (R4 ValueSet.compose): include/exclude by concept list, whole code system,
``filter`` (is-a, descendent-of, is-not-a, =, in, not-in, regex, exists) and ``valueSet`` imports.
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.core.budget import checkpoint
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.core.linear_regex import RegexError, compile_linear
from fhir_server.terminology.codesystem import CodeSystemIndex, Concept

MAX_DEPTH = 10
Resolver = Callable[[str], "CodeSystemIndex | None"]
ValueSetResolver = Callable[[str], "dict | None"]


class ExpansionError(Unprocessable):
    """The value set cannot be expanded (unknown code system or value set, unsupported filter)."""

    def __init__(self, message: str, code: str = "not-supported") -> None:
        super().__init__([Issue(code, message)])


def expand(value_set: dict, systems: Resolver, value_sets: ValueSetResolver, depth: int = 0) -> list[Concept]:
    """Every concept of ``value_set``, in compose order, without duplicates."""
    if depth > MAX_DEPTH:
        raise ExpansionError("ValueSet imports are nested too deeply (a cycle?)", code="too-costly")
    compose = value_set.get("compose")
    if not isinstance(compose, dict):
        if isinstance(value_set.get("expansion"), dict):
            return _from_expansion(value_set["expansion"])
        raise ExpansionError(f"ValueSet {value_set.get('url') or value_set.get('id')} has no compose to expand")
    included: dict[tuple[str, str], Concept] = {}
    for include in compose.get("include") or []:
        checkpoint()  # the request's budget (core.budget)
        for concept in _part(include, systems, value_sets, depth):
            included.setdefault((concept.system, concept.code), concept)
    for exclude in compose.get("exclude") or []:
        for concept in _part(exclude, systems, value_sets, depth):
            included.pop((concept.system, concept.code), None)
    return list(included.values())


def _from_expansion(expansion: dict) -> list[Concept]:
    out = []

    def walk(items: list) -> None:
        for c in items:
            if isinstance(c, dict) and c.get("code") and c.get("system"):
                out.append(Concept(c["system"], c["code"], c.get("display")))
            walk(c.get("contains") or [] if isinstance(c, dict) else [])

    walk(expansion.get("contains") or [])
    return out


def _part(part: dict, systems: Resolver, value_sets: ValueSetResolver, depth: int) -> list[Concept]:
    if not isinstance(part, dict):
        return []
    imported: set[tuple[str, str]] | None = None
    imported_concepts: list[Concept] = []
    for url in part.get("valueSet") or []:
        vs = value_sets(url)
        if vs is None:
            raise ExpansionError(f"Imported ValueSet {url} is not known to this server", code="not-found")
        concepts = expand(vs, systems, value_sets, depth + 1)
        keys = {(c.system, c.code) for c in concepts}
        imported = keys if imported is None else imported & keys
        imported_concepts = imported_concepts or concepts
    system = part.get("system")
    if not system:
        return [c for c in imported_concepts if imported is None or (c.system, c.code) in imported]
    concepts = _from_system(part, system, systems)
    if imported is not None:
        concepts = [c for c in concepts if (c.system, c.code) in imported]
    return concepts


def _from_system(part: dict, system: str, systems: Resolver) -> list[Concept]:
    index = systems(system)
    listed = part.get("concept")
    if listed:
        out = []
        for item in listed:
            code = item.get("code") if isinstance(item, dict) else None
            if not isinstance(code, str):
                continue
            known = index.get(code) if index else None
            designations = tuple((d.get("language"), d["value"]) for d in item.get("designation", [])
                                 if isinstance(d, dict) and isinstance(d.get("value"), str))
            out.append(known or Concept(system, code, item.get("display"), designations))
        return out
    if index is None:
        raise ExpansionError(f"Code system {system} is not known to this server: cannot expand it")
    if index.content not in ("complete", "fragment"):
        raise ExpansionError(f"Code system {system} is not held completely (content {index.content})")
    codes = list(index.concepts)
    for f in part.get("filter") or []:
        if not isinstance(f, dict):
            raise ExpansionError("A ValueSet filter must be an object", code="invalid")
        selected = set(_filter(index, f))
        codes = [c for c in codes if c in selected]
    return [index.concepts[c] for c in codes]


def _filter(index: CodeSystemIndex, f: dict) -> list[str]:
    prop, op, value = f.get("property"), f.get("op"), f.get("value")
    if not isinstance(value, str):
        raise ExpansionError("A ValueSet filter needs a value")
    if prop in ("concept", "code") and op == "is-a":
        return index.descendants(value)
    if prop in ("concept", "code") and op == "descendent-of":
        return index.descendants(value, include_self=False)
    if prop in ("concept", "code") and op == "is-not-a":
        below = set(index.descendants(value))
        return [c for c in index.concepts if c not in below]
    if prop in ("concept", "code") and op == "in":
        return [c.strip() for c in value.split(",")]
    if prop in ("concept", "code") and op == "not-in":
        excluded = {c.strip() for c in value.split(",")}
        return [c for c in index.concepts if c not in excluded]
    if prop in ("concept", "code") and op == "regex":
        try:
            pattern = compile_linear(value)  # linear time: a client's regex cannot freeze the worker
        except RegexError as exc:
            raise ExpansionError(f"ValueSet filter regex '{value}' is not a valid pattern: {exc}",
                                 code="invalid") from None
        return [c for c in index.concepts if pattern.fullmatch(c)]
    if prop == "display" and op == "=":
        return [code for code, c in index.concepts.items() if c.display == value]
    if op in ("=", "exists"):
        return [code for code in index.concepts if _has_property(index, code, str(prop), op, value)]
    raise ExpansionError(f"ValueSet filter {prop} {op} is not supported")


def _has_property(index: CodeSystemIndex, code: str, prop: str, op: str, value: str) -> bool:
    values = [str(v) for p in index.properties.get(code, []) if p.get("code") == prop
              for k, v in p.items() if k.startswith("value")]
    if op == "exists":
        return bool(values) == (value == "true")
    return value in values
