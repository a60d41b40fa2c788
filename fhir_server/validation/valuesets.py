"""What codes a ValueSet holds, for bindings (FHIR R4 terminologies.html §4.1, valueset.html §compose).

:class:`ValueSets` expands from the CodeSystem and ValueSet resources it is given (the IG's):
``expansion.contains`` when present, else ``compose.include`` of explicit concepts, of whole
CodeSystems it knows, or of other ValueSets, minus ``compose.exclude``.  Filters, and systems
it holds no CodeSystem for, make the expansion unknown (``None``): the binding is then not
checked, never reported as broken.  The IG's value sets this cannot expand go to the
terminology service (:mod:`fhir_server.terminology`: filters, hierarchies).  The ValueSets of
base R4 required and extensible bindings come from ``required-bindings.json`` and
``extensible-bindings.json`` (:mod:`.bindings`).
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_server.terminology.service import Terminology
from fhir_server.validation.bindings import extensible_value_sets
from fhir_server.validation.bindings import value_sets as base_value_sets

JIAYI = "https://jiayi.dev/fhir/"

Expansion = dict[str, frozenset[str]]  # code system → codes


def _concepts(concepts: Iterable[dict]) -> set[str]:
    out: set[str] = set()
    for c in concepts:
        if isinstance(c, dict) and isinstance(c.get("code"), str):
            out.add(c["code"])
            out |= _concepts(c.get("concept") or ())
    return out


class ValueSets:
    def __init__(self, resources: Iterable[dict] = ()) -> None:
        self._systems: dict[str, frozenset[str]] = {}
        self._sets: dict[str, dict] = {}
        self._cache: dict[str, Expansion | None] = {}
        resources = list(resources)
        self._terminology = Terminology(extra=[r for r in resources if r.get("resourceType") in ("CodeSystem",
                                                                                                  "ValueSet")])
        for r in resources:
            url = str(r.get("url", "")).split("|")[0]
            if r.get("resourceType") == "CodeSystem" and r.get("content", "complete") == "complete":
                self._systems[url] = frozenset(_concepts(r.get("concept") or ()))
            elif r.get("resourceType") == "ValueSet":
                self._sets[url] = r

    def codes(self, url: str) -> Expansion | None:
        """The codes of ``url`` per system, or None when it cannot be expanded here."""
        url = url.split("|")[0]
        if url not in self._cache:
            self._cache[url] = None  # a ValueSet that includes itself expands to nothing known
            found = self._expand(url)
            if found is None and url.startswith(JIAYI):
                found = self._full(url)
            self._cache[url] = found
        return self._cache[url]

    def _full(self, url: str) -> Expansion | None:
        """The IG's value sets this simple expander cannot do (filters, imports): the terminology service."""
        try:
            return {s: frozenset(c) for s, c in self._terminology.codes(url).items()}
        except Exception:  # noqa: BLE001 - unknown or not expandable: the binding is not checked
            return None

    def _expand(self, url: str) -> Expansion | None:
        vs = self._sets.get(url)
        if vs is None:
            return base_value_sets().get(url) or extensible_value_sets().get(url)
        contains = (vs.get("expansion") or {}).get("contains")
        if contains:
            out: dict[str, set[str]] = {}
            for c in _flatten(contains):
                out.setdefault(c.get("system", ""), set()).add(c.get("code", ""))
            return {s: frozenset(c) for s, c in out.items()}
        compose = vs.get("compose") or {}
        included = self._part(compose.get("include") or [])
        if included is None:
            return None
        excluded = self._part(compose.get("exclude") or []) or {}
        return {s: frozenset(c - excluded.get(s, frozenset())) for s, c in included.items()}

    def _part(self, parts: list[dict]) -> Expansion | None:
        out: dict[str, set[str]] = {}
        for part in parts:
            if part.get("filter"):
                return None
            system = part.get("system")
            if system:
                codes = _concepts(part["concept"]) if part.get("concept") else self._systems.get(system)
                if codes is None:
                    return None
                out.setdefault(system, set()).update(codes)
            for inner in part.get("valueSet") or []:
                expansion = self.codes(inner)
                if expansion is None:
                    return None
                for s, c in expansion.items():
                    out.setdefault(s, set()).update(c)
        return {s: frozenset(c) for s, c in out.items()}


def _flatten(contains: list[dict]) -> Iterable[dict]:
    for c in contains:
        if "code" in c:
            yield c
        yield from _flatten(c.get("contains") or [])
