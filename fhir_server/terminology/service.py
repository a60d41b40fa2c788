"""The terminology service over data: the IG's CodeSystems/ValueSets/ConceptMaps, the official R4
ones, and whatever a caller can fetch (the store).  No storage import: the store comes in as
a ``fetch(resource_type, params) -> [resources]`` callable, so this layer stays below storage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fhir_server.core.errors import NotFound
from fhir_server.definitions import ig
from fhir_server.terminology.codesystem import CodeSystemIndex, Concept
from fhir_server.terminology.expansion import expand

DATA = Path(__file__).parent / "data"
Fetch = Callable[[str, list[tuple[str, str]]], list[dict]]
TERMINOLOGY_TYPES = ("CodeSystem", "ValueSet", "ConceptMap")


@cache
def _r4() -> tuple[dict[str, tuple[str, list]], dict[str, dict]]:
    data = json.loads((DATA / "r4-terminology.json").read_text(encoding="utf-8"))
    systems = {url: (content, rows) for url, content, rows in data["codeSystems"]}
    value_sets = {url: {"resourceType": "ValueSet", "url": url, "name": name, "status": "active", "compose": compose}
                  for url, name, compose in data["valueSets"]}
    return systems, value_sets


def r4_canonical_urls() -> list[tuple[str, str]]:
    """(url, resource type) of the official R4 CodeSystems and ValueSets this service holds."""
    systems, value_sets = _r4()
    return [(url, "CodeSystem") for url in systems] + [(url, "ValueSet") for url in value_sets]


@cache
def _r4_system(url: str) -> CodeSystemIndex | None:
    found = _r4()[0].get(url)
    return CodeSystemIndex.from_compact(url, *found) if found else None


@cache
def _given_index() -> dict[tuple[str, str], dict]:
    return _index(ig.conformance())


def _index(resources: Iterable[dict]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for r in resources:
        if r.get("resourceType") in TERMINOLOGY_TYPES and isinstance(r.get("url"), str):
            out.setdefault((r["resourceType"], r["url"]), r)
    return out


@cache
def _ig_system(url: str) -> CodeSystemIndex | None:
    found = _given_index().get(("CodeSystem", url))
    return CodeSystemIndex.from_resource(found) if found else None


def canonical(url: str) -> str:
    """A canonical reference without its ``|version``."""
    return url.split("|", 1)[0]


@dataclass(frozen=True, slots=True)
class Match:
    equivalence: str
    system: str | None
    code: str | None
    display: str | None
    source: str | None  # the ConceptMap url


class Terminology:
    """Resolves canonical URLs (IG first, then the store, then official R4) and answers terminology questions."""

    def __init__(self, fetch: Fetch | None = None, extra: Iterable[dict] = ()) -> None:
        self._fetch = fetch
        self._extra = _index(extra)
        self._systems: dict[str, CodeSystemIndex | None] = {}
        self._expansions: dict[int, tuple[dict, list[Concept]]] = {}

    # --- resolution -------------------------------------------------------------------------
    def resource(self, res_type: str, url: str) -> dict | None:
        url = canonical(url)
        found = self._extra.get((res_type, url)) or _given_index().get((res_type, url))
        if found is None and self._fetch is not None:
            hits = self._fetch(res_type, [("url", url)])
            found = hits[0] if hits else None
        if found is None and res_type == "ValueSet":
            found = _r4()[1].get(url)
        return found

    def code_system(self, url: str) -> CodeSystemIndex | None:
        url = canonical(url)
        if url not in self._systems:
            self._systems[url] = self._find_system(url)
        return self._systems[url]

    def _find_system(self, url: str) -> CodeSystemIndex | None:
        if ("CodeSystem", url) in self._extra:
            return CodeSystemIndex.from_resource(self._extra[("CodeSystem", url)])
        if ("CodeSystem", url) in _given_index():
            return _ig_system(url)
        resource = self.resource("CodeSystem", url)
        if resource is not None and resource.get("concept"):
            return CodeSystemIndex.from_resource(resource)
        return _r4_system(url)

    def value_set(self, url: str) -> dict:
        found = self.resource("ValueSet", url)
        if found is None:
            raise NotFound(f"ValueSet {url} is not known to this server", expression=["url"])
        return found

    def concept_maps(self, url: str | None = None, system: str | None = None) -> list[dict]:
        if url:
            found = self.resource("ConceptMap", url)
            if found is None:
                raise NotFound(f"ConceptMap {url} is not known to this server", expression=["url"])
            return [found]
        maps = [r for (t, _), r in {**_given_index(), **self._extra}.items() if t == "ConceptMap"]
        if self._fetch is not None and system:
            known = {m.get("url") for m in maps}
            maps += [m for m in self._fetch("ConceptMap", [("source-system", system)]) if m.get("url") not in known]
        return maps

    # --- operations ---------------------------------------------------------------------------
    def expand(self, value_set: dict) -> list[Concept]:
        """The expansion, cached for this object (kept referenced, so its id is not reused)."""
        cached = self._expansions.get(id(value_set))
        if cached is not None and cached[0] is value_set:
            return cached[1]
        concepts = expand(value_set, self.code_system, self.resource_value_set)
        self._expansions[id(value_set)] = (value_set, concepts)
        return concepts

    def resource_value_set(self, url: str) -> dict | None:
        return self.resource("ValueSet", url)

    def codes(self, url: str) -> dict[str, set[str]]:
        """System → codes of the value set ``url`` (for ``:in`` / ``:not-in``); 404 when unknown."""
        out: dict[str, set[str]] = {}
        for concept in self.expand(self.value_set(url)):
            out.setdefault(concept.system, set()).add(concept.code)
        return out

    def lookup(self, system: str, code: str) -> tuple[CodeSystemIndex, Concept] | None:
        index = self.code_system(system)
        concept = index.get(code) if index else None
        return (index, concept) if index and concept else None

    def in_value_set(self, value_set: dict, system: str | None, code: str) -> Concept | None:
        for concept in self.expand(value_set):
            if concept.code == code and (system is None or concept.system == system):
                return concept
        return None

    def translate(self, maps: list[dict], system: str, code: str, target: str | None = None,
                  reverse: bool = False) -> list[Match]:
        out: list[Match] = []
        for cm in maps:
            for group in (cm.get("group") or []) if isinstance(cm, dict) else []:
                if not isinstance(group, dict):
                    continue
                out += _group_matches(cm, group, system, code, target, reverse)
        return [self._with_display(m) for m in out]

    def _with_display(self, match: Match) -> Match:
        if match.display or not match.system or not match.code:
            return match
        found = self.lookup(match.system, match.code)
        return Match(match.equivalence, match.system, match.code, found[1].display if found else None, match.source)


def _group_matches(cm: dict, group: dict, system: str, code: str, target: str | None, reverse: bool) -> list[Match]:
    source_system, target_system = group.get("source"), group.get("target")
    if reverse:
        source_system, target_system = target_system, source_system
    if source_system != system or (target and target_system != target and cm.get("targetUri") != target
                                   and cm.get("targetCanonical") != target):
        return []
    out = []
    for element in group.get("element") or []:
        if not isinstance(element, dict):
            continue
        for t in element.get("target") or []:
            if not isinstance(t, dict):
                continue
            src, dst = (element, t) if not reverse else (t, element)
            if src.get("code") != code:
                continue
            equivalence = t.get("equivalence", "equivalent")
            out.append(Match(equivalence, target_system, dst.get("code"), dst.get("display"), cm.get("url")))
    return out
