"""The in-memory twin of the SQL search engine, for the in-memory repository and unit tests.

Same SearchRequest, same index rows (:mod:`fhir_server.search.index`), same per-type
``matches`` functions: a test that passes here and on SQLite and PostgreSQL exercises one
set of semantics.  Linear scans; fine for test-sized data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_server.search import fulltext, pinyin
from fhir_server.search.index import index_entries, text_entries
from fhir_server.search.page import PageToken, SearchPage, page_links
from fhir_server.search.params import KINDS
from fhir_server.search.registry import ParamRegistry, base_registry
from fhir_server.search.request import (
    AnyTest,
    ChainTest,
    HasTest,
    Include,
    MissingTest,
    SearchRequest,
    SortKey,
    Test,
    ValueTest,
)
from fhir_server.search.values import MIN_DATE, ValueError_, date_range

Key = tuple[str, str]
MEMORY = "mem"



def value_test_matches(test: ValueTest, entries: Mapping[str, Iterable[dict]]) -> bool:
    """Whether a resource's index ``entries`` satisfy a value test (its modifier, its negation)."""
    kind = KINDS[test.param.type]
    code = pinyin.index_code(test.param.code) if test.modifier == pinyin.MODIFIER else test.param.code
    hit = any(kind.matches(row, v, test.modifier) for row in entries.get(code, ()) for v in test.values)
    return hit != test.negated

@dataclass(frozen=True, slots=True)
class MemoryMatch:
    """A stored resource as the SQL engine's ResourceRow exposes it."""

    res_type: str
    res_id: str
    content: dict
    version: int
    last_updated: datetime


class Registries:
    """The registry of one store's SearchParameters, rebuilt when they change (a store keeps
    one, so each search need not rebuild it)."""

    def __init__(self) -> None:
        self.registry: ParamRegistry = base_registry()
        self.stamp: tuple = ()

    def refresh(self, store: Mapping[Key, dict]) -> bool:
        """Bring the registry up to date with ``store``; True when it changed."""
        custom = [v for (t, _), v in store.items() if t == "SearchParameter"]
        stamp = tuple(sorted((v.get("id"), str(v.get("meta", {}).get("versionId")), v.get("status")) for v in custom))
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        self.registry = base_registry().with_custom(custom, stamp) if custom else base_registry()
        return True


class MemorySearch:
    def __init__(self, resources_getter: Callable[[], Mapping[Key, Any]], max_include_depth: int = 3,
                 registries: Registries | None = None) -> None:
        self._get = resources_getter
        self._max_depth = max_include_depth
        self._entries: dict[Key, tuple[Any, dict]] = {}
        self._originals: dict[Key, Any] = {}
        self._registries = registries or Registries()
        self._registry: ParamRegistry = self._registries.registry

    def registry(self) -> ParamRegistry:
        """The parameters in force, including active SearchParameter resources in the store."""
        self._refresh_registry(self._store())
        return self._registry

    def _store(self) -> dict[Key, dict]:
        self._originals = dict(self._get())
        store = {k: _content(v) for k, v in self._originals.items()}
        return {k: v for k, v in store.items() if v is not None}

    def _match(self, key: Key, content: dict) -> Any:
        """The stored object itself when it already looks like a ResourceRow, else a MemoryMatch."""
        original = self._originals.get(key)
        if all(hasattr(original, a) for a in ("res_type", "res_id", "content", "version", "last_updated")):
            return original
        return _match(key, content)

    def execute(self, request: SearchRequest, page: str | None = None) -> SearchPage:
        if request.reach is not None:  # never answer a limited principal without its limits
            raise NotImplementedError("the in-memory twin does not apply access by relationship (SQL only)")
        store = self._store()
        self._refresh_registry(store)
        found = [k for k in store if self._selected(request, k) and
                 all(self._matches(store, t, k[0], k[1]) for t in request.where)]
        if request.count_only:
            return SearchPage(total=len(found))
        ordered = self._sorted(store, found, request.sort)
        token = page or request.page
        offset = PageToken.parse(token).offset if token else request.offset
        chosen = ordered[offset:offset + request.count]
        result = SearchPage(matches=[self._match(k, store[k]) for k in chosen],
                            total=None if request.total == "none" else len(ordered))
        if len(ordered) > request.count:
            for name, token in page_links(MEMORY, offset, request.count, len(ordered)).items():
                setattr(result, name, token)
        if request.includes and chosen:
            result.included = [self._match(k, store[k]) for k in self._includes(store, request.includes, chosen)]
        return result

    def _refresh_registry(self, store: Mapping[Key, dict]) -> None:
        self._registries.refresh(store)
        if self._registries.registry is not self._registry:
            self._registry = self._registries.registry
            self._entries.clear()

    def entries(self, key: Key, content: dict) -> dict[str, list[dict]]:
        marker = (id(content), content.get("meta", {}).get("versionId"), content.get("meta", {}).get("lastUpdated"))
        cached = self._entries.get(key)
        if cached is None or cached[0] != marker:
            found = index_entries(self._registry, key[0], content, skip=frozenset())
            found.update((code, [{"tokens": frozenset(tokens)}]) for code, tokens in text_entries(content).items())
            cached = (marker, found)
            self._entries[key] = cached
        return cached[1]

    @staticmethod
    def _selected(request: SearchRequest, key: Key) -> bool:
        if request.resource_type is not None:
            return key[0] == request.resource_type
        return not request.types or key[0] in request.types

    def _matches(self, store: Mapping[Key, dict], test: Test, res_type: str, res_id: str) -> bool:
        content = store.get((res_type, res_id))
        if content is None:
            return False
        entries = self.entries((res_type, res_id), content)
        if isinstance(test, ValueTest):
            if test.param.code in fulltext.PARAMS:
                return any(fulltext.matches(row["tokens"], v) for row in entries.get(test.param.code, ())
                           for v in test.values)
            return value_test_matches(test, entries)
        if isinstance(test, MissingTest):
            return bool(entries.get(test.param.code)) != test.missing
        if isinstance(test, ChainTest):
            return any(row["target_type"] == test.target_types[0] and row["target_id"] and
                       self._matches(store, test.test, row["target_type"], row["target_id"])
                       for row in entries.get(test.param.code, ()))
        if isinstance(test, HasTest):
            return any(self._refers(store, k, test.param.code, (res_type, res_id)) and
                       self._matches(store, test.test, *k) for k in store if k[0] == test.source_type)
        if isinstance(test, AnyTest):
            return any(self._matches(store, t, res_type, res_id) for t in test.tests)
        raise TypeError(test)

    def _refers(self, store: Mapping[Key, dict], source: Key, code: str | None, target: Key) -> bool:
        return target in self._targets(store, source, code)

    def _targets(self, store: Mapping[Key, dict], source: Key, code: str | None) -> list[Key]:
        entries = self.entries(source, store[source])
        params = self._registry.for_type(source[0])
        codes = [code] if code else [c for c in entries if params.get(c) and params[c].type == "reference"]
        return [(r["target_type"], r["target_id"]) for c in codes for r in entries.get(c, ())
                if r.get("target_id") and r.get("target_type")]

    def _sorted(self, store: Mapping[Key, dict], keys: list[Key], sort: tuple[SortKey, ...]) -> list[Key]:
        ordered = sorted(keys, key=lambda k: (_updated(store[k]), k[0], k[1]) if not sort else (k[0], k[1]))
        for key in reversed(sort):
            present = [k for k in ordered if self._sort_value(store, k, key) is not None]
            missing = [k for k in ordered if self._sort_value(store, k, key) is None]
            present.sort(key=lambda k: self._sort_value(store, k, key), reverse=key.descending)
            ordered = present + missing
        return ordered

    def _sort_value(self, store: Mapping[Key, dict], k: Key, key: SortKey) -> Any:
        if key.param.code == "_id":
            return k[1]
        if key.param.code == "_lastUpdated":
            return _updated(store[k])
        asc_col, desc_col = KINDS[key.param.type].SORT_COLUMNS
        values = [r[desc_col if key.descending else asc_col] for r in self.entries(k, store[k]).get(key.param.code, ())]
        values = [v for v in values if v is not None]
        return (max(values) if key.descending else min(values)) if values else None

    def _includes(self, store: Mapping[Key, dict], includes: tuple[Include, ...], matches: list[Key]) -> list[Key]:
        seen, found, frontier = set(matches), [], list(matches)
        for depth in range(self._max_depth):
            active = [i for i in includes if depth == 0 or i.iterate]
            new = sorted({k for inc in active for k in self._include_keys(store, inc, frontier)} - seen)
            new = [k for k in new if k in store]
            seen.update(new)
            found.extend(new)
            frontier = new
            if not new:
                break
        return found

    def _include_keys(self, store: Mapping[Key, dict], inc: Include, frontier: list[Key]) -> Iterable[Key]:
        code = inc.param.code if inc.param else None
        if not inc.reverse:
            return [t for s in frontier if inc.source_type in ("*", s[0]) for t in self._targets(store, s, code)
                    if inc.target_type in (None, t[0])]
        wanted = {k for k in frontier if inc.target_type in (None, k[0])}
        return [s for s in store if inc.source_type in ("*", s[0]) and
                any(t in wanted for t in self._targets(store, s, code))]


def _content(value: Any) -> dict | None:
    if isinstance(value, dict):
        return value
    if getattr(value, "deleted", False):
        return None
    return getattr(value, "content", None)


def _updated(content: dict) -> datetime:
    try:
        return date_range(content.get("meta", {}).get("lastUpdated", ""))[0]
    except ValueError_:
        return MIN_DATE


def _match(key: Key, content: dict) -> MemoryMatch:
    version = content.get("meta", {}).get("versionId", "1")
    return MemoryMatch(key[0], key[1], content, int(version) if str(version).isdigit() else 1, _updated(content))
