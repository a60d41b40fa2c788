"""Which search parameters exist for which resource type (FHIR R4 §3.1.1 search, SearchParameter).

The 1,378 standard parameters come from ``definitions/data/search-parameters.json``; custom
``SearchParameter`` resources (status active) are merged over them by :func:`with_custom`.
Parameters declared on ``Resource`` apply to every type, those on ``DomainResource`` to every
type but Bundle, Binary and Parameters.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from fhir_server.definitions import ig
from fhir_server.definitions.structures import DATA, structures

NOT_DOMAIN = frozenset({"Bundle", "Binary", "Parameters"})
# parameters that need a full-text engine or geometry; parsed as "not supported"
UNSUPPORTED = frozenset({"_text", "_content", "_list", "_query", "_filter", "near"})


@dataclass(frozen=True, slots=True)
class Component:
    definition: str  # canonical URL of the component's SearchParameter
    expression: str  # relative to the composite's node


@dataclass(frozen=True, slots=True, repr=False)
class SearchParam:
    url: str
    code: str
    type: str  # number | date | string | token | reference | composite | quantity | uri | special
    base: tuple[str, ...]
    expression: str | None
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()

    def __repr__(self) -> str:
        return f"SearchParam({self.code!r}, {self.type!r}, {self.url!r})"

    @property
    def indexed(self) -> bool:
        return bool(self.expression) and self.type != "special" and self.code not in UNSUPPORTED


def param_from_json(data: dict) -> SearchParam:
    return SearchParam(
        url=data["url"],
        code=data["code"],
        type=data["type"],
        base=tuple(data.get("base", ())),
        expression=data.get("expression"),
        targets=tuple(data.get("target", ())),
        components=tuple(Component(c["definition"], c["expression"]) for c in data.get("component", ())),
    )


class ParamRegistry:
    """Parameters by resource type and code, and by canonical URL (for composites)."""

    def __init__(self, params: Iterable[SearchParam], stamp: object = None) -> None:
        self.stamp = stamp
        self._by_base: dict[str, dict[str, SearchParam]] = {}
        self.by_url: dict[str, SearchParam] = {}
        for param in params:
            self.by_url[param.url] = param
            for base in param.base:
                self._by_base.setdefault(base, {})[param.code] = param
        self._merged: dict[str, dict[str, SearchParam]] = {}

    def for_type(self, res_type: str) -> dict[str, SearchParam]:
        """Every parameter of ``res_type``, including Resource- and DomainResource-level ones."""
        merged = self._merged.get(res_type)
        if merged is None:
            merged = dict(self._by_base.get("Resource", {}))
            if res_type not in NOT_DOMAIN:
                merged.update(self._by_base.get("DomainResource", {}))
            merged.update(self._by_base.get(res_type, {}))
            self._merged[res_type] = merged
        return merged

    def get(self, res_type: str | None, code: str) -> SearchParam | None:
        if res_type is None:
            return self._by_base.get("Resource", {}).get(code) or self._by_base.get("DomainResource", {}).get(code)
        return self.for_type(res_type).get(code)

    def is_resource_type(self, name: str) -> bool:
        return structures().is_resource_type(name)

    def resource_types(self) -> tuple[str, ...]:
        return structures().resource_types

    def with_custom(self, resources: Iterable[dict], stamp: object = None) -> ParamRegistry:
        """A new registry: this one plus the active SearchParameter resources given."""
        extra = [param_from_json(_normalise(r)) for r in resources if _usable(r)]
        return ParamRegistry([*self.by_url.values(), *extra], stamp) if extra else ParamRegistry(
            self.by_url.values(), stamp)


def _usable(resource: dict) -> bool:
    return (resource.get("status") == "active" and bool(resource.get("code")) and bool(resource.get("base"))
            and bool(resource.get("type")) and bool(resource.get("url")))


def _normalise(resource: dict) -> dict:
    return {**resource, "expression": resource.get("expression")}


# R4's DocumentReference-relationship gives its reference component (relatesto) the expression
# ``code`` and its token component (relation) ``target``: swapped, so nothing could match (R5
# pairs them the right way round).
_R4_COMPONENT_EXPRESSIONS = {
    "http://hl7.org/fhir/SearchParameter/DocumentReference-relationship": ("target", "code"),
}


def _corrected(param: SearchParam) -> SearchParam:
    expressions = _R4_COMPONENT_EXPRESSIONS.get(param.url)
    if expressions is None or len(expressions) != len(param.components):
        return param
    components = tuple(Component(c.definition, e) for c, e in zip(param.components, expressions, strict=True))
    return dataclasses.replace(param, components=components)


@cache
def base_registry() -> ParamRegistry:
    """The standard R4 parameters plus the Jiayi IG's (always in force, in every process)."""
    data = json.loads((DATA / "search-parameters.json").read_text(encoding="utf-8"))
    standard = [_corrected(param_from_json(p)) for p in data["parameters"]]
    return ParamRegistry(standard).with_custom(r for r in ig.conformance() if r["resourceType"] == "SearchParameter")


@cache
def compartment_params(compartment_type: str) -> dict[str, tuple[str, ...]]:
    """Resource type → the parameters that put it in ``compartment_type``'s compartment."""
    path = DATA / f"compartment-{compartment_type.lower()}.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {r["code"]: tuple(r["param"]) for r in data.get("resource", []) if r.get("param")}

