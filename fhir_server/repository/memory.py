"""The in-memory repository twin: the same contract as :mod:`.sql`, no database.

Interactions and operations are unit-tested against it.  A unit of work buffers its writes
and applies them on success only, so a failed transaction leaves nothing behind, as in SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fhir_server.core.clock import Clock, IdFactory, system_clock, uuid_ids
from fhir_server.core.errors import Conflict
from fhir_server.repository.base import (
    HistoryPage,
    HistoryQuery,
    Hooks,
    StoredResource,
    UnitOfWorkBase,
    WriteEvent,
    meta_union,
    next_timestamp,
    stamp_meta,
)

Key = tuple[str, str]


class MemoryStore:
    def __init__(self) -> None:
        self.current: dict[Key, StoredResource] = {}
        self.versions: list[StoredResource] = []  # append-only, in write order
        self.lock = threading.RLock()
        self.search_registries: object = None  # search.memory.Registries, made by the first search
        self.counters: dict[tuple[str, str], int] = {}  # (scope, bucket) -> value (rule_counter)


class MemoryUnitOfWork(UnitOfWorkBase):
    def __init__(self, store: MemoryStore, hooks: Hooks, clock: Clock, ids: IdFactory) -> None:
        super().__init__(hooks, clock, ids)
        self._store = store
        self.pending: dict[Key, StoredResource] = {}
        self.pending_versions: list[StoredResource] = []
        self.pending_counts: dict[tuple[str, str], int] = {}

    def lock(self, key: str) -> None:
        """Units of work are serialised by the store's lock already."""

    def referring(self, res_type: str, param: str, target: str) -> list[StoredResource]:
        from fhir_server import search

        request = search.parse_search(res_type, [(param, target), ("_count", "1000"), ("_total", "none")],
                                      strict=True, registry=self.search_params())
        found = [self.get(m.res_type, m.res_id) for m in self.search(request).matches]
        return sorted((s for s in found if s is not None), key=lambda s: (s.last_updated, s.res_id))

    def counted(self, scope: str, since: str = "") -> int:
        merged = dict(self._store.counters)
        for key, delta in self.pending_counts.items():
            merged[key] = merged.get(key, 0) + delta
        return sum(v for (s, b), v in merged.items() if s == scope and b >= since)

    def add_count(self, scope: str, bucket: str, delta: int) -> None:
        self.pending_counts[(scope, bucket)] = self.pending_counts.get((scope, bucket), 0) + delta

    def get(self, res_type: str, res_id: str, *, for_update: bool = False) -> StoredResource | None:
        key = (res_type, res_id)
        return self.pending.get(key) or self._store.current.get(key)

    def get_version(self, res_type: str, res_id: str, version: int) -> StoredResource | None:
        for stored in self._all_versions():
            if (stored.res_type, stored.res_id, stored.version) == (res_type, res_id, version):
                return stored
        return None

    def _all_versions(self) -> list[StoredResource]:
        return self._store.versions + self.pending_versions

    def _save(self, method: str, res_type: str, res_id: str, resource: dict, previous: StoredResource | None,
              validated: bool) -> StoredResource:
        self._check_current(res_type, res_id, previous)
        version = previous.version + 1 if previous else 1
        when = next_timestamp(self._clock, previous)
        content = stamp_meta(resource, res_id, version, when)
        event = WriteEvent(method, res_type, res_id, content, previous)
        self.check_write(event, validated)
        stored = self._put(StoredResource(res_type, res_id, version, when, False, content, method))
        self.derive(event)
        return stored

    def delete(self, res_type: str, res_id: str, previous: StoredResource) -> StoredResource:
        self._check_current(res_type, res_id, previous)
        event = WriteEvent("DELETE", res_type, res_id, None, previous)
        self.check_write(event)
        when = next_timestamp(self._clock, previous)
        stored = self._put(StoredResource(res_type, res_id, previous.version + 1, when, True, None, "DELETE"))
        self.derive(event)
        return stored

    def _check_current(self, res_type: str, res_id: str, previous: StoredResource | None) -> None:
        current = self.get(res_type, res_id)
        if (current.version if current else None) != (previous.version if previous else None):
            raise Conflict(f"{res_type}/{res_id} was changed by a concurrent request; read it again and retry")

    def _put(self, stored: StoredResource) -> StoredResource:
        self.pending[(stored.res_type, stored.res_id)] = stored
        self.pending_versions.append(stored)
        self.wrote(stored.res_type)
        return stored

    def scan(self, res_type: str) -> Iterator[dict]:
        current = {**self._store.current, **self.pending}
        for key in sorted(k for k in current if k[0] == res_type):
            stored = current[key]
            if not stored.deleted and stored.content is not None:
                yield stored.content

    def within_reach(self, res_type: str, res_id: str, reach) -> bool:
        """The in-memory store does not limit by relationship (as its searches): existing is enough."""
        stored = self.get(res_type, res_id)
        return stored is not None and not stored.deleted

    def search(self, request, page: str | None = None):
        return self._search_engine().execute(request, page)

    def search_params(self):
        """The search parameters in force: the standard ones and the store's active
        SearchParameters, this unit of work's own writes included."""
        return self._search_engine().registry()

    def _search_engine(self):
        from fhir_server.search.memory import MemorySearch, Registries

        if self._store.search_registries is None:
            self._store.search_registries = Registries()
        return MemorySearch(self._live, registries=self._store.search_registries)  # type: ignore[arg-type]

    def _live(self) -> dict[Key, StoredResource]:
        merged = dict(self._store.current)
        merged.update(self.pending)
        return {k: v for k, v in merged.items() if not v.deleted}

    def reindex(self, res_type: str | None = None, res_id: str | None = None) -> int:
        """Nothing to rebuild (the twin indexes as it searches); the count of resources concerned."""
        return sum(1 for k in self._live() if res_type in (None, k[0]) and res_id in (None, k[1]))

    def meta_in_use(self, res_type: str | None = None) -> dict:
        return meta_union(v.content.get("meta") or {} for k, v in self._live().items()
                          if res_type in (None, k[0]) and v.content)

    def history(self, query: HistoryQuery) -> HistoryPage:
        versions = self._all_versions()
        positions = [(seq, v) for seq, v in enumerate(versions, 1) if _matches(v, query, versions)]
        positions.reverse()
        total = len(positions)
        if query.before_seq is not None:
            positions = [(s, v) for s, v in positions if s < query.before_seq]
        page = positions[: query.count]
        more = len(positions) > query.count
        return HistoryPage([v for _, v in page], total, page[-1][0] if more and page else None,
                           page[0][0] if page else None)


def _matches(v: StoredResource, query: HistoryQuery, versions: list[StoredResource]) -> bool:
    if query.res_type and v.res_type != query.res_type:
        return False
    if query.res_id and v.res_id != query.res_id:
        return False
    if query.since and v.last_updated < query.since:
        return False
    if query.at:
        low, high = query.at
        if v.last_updated >= high:
            return False
        return not any(n.res_type == v.res_type and n.res_id == v.res_id and n.version > v.version
                       and n.last_updated <= low for n in versions)
    return True


class MemoryRepository:
    def __init__(self, clock: Clock = system_clock, ids: IdFactory = uuid_ids, hooks: Hooks | None = None) -> None:
        self.store = MemoryStore()
        self.clock = clock
        self.ids = ids
        self.hooks = hooks or Hooks()

    @contextmanager
    def unit_of_work(self, write: bool = False, bulk: bool = False) -> Iterator[MemoryUnitOfWork]:
        with self.store.lock:
            uow = MemoryUnitOfWork(self.store, self.hooks, self.clock, self.ids)
            yield uow
            uow.run_before_commit()
            self.store.current.update(uow.pending)
            self.store.versions.extend(uow.pending_versions)
            for key, delta in uow.pending_counts.items():
                self.store.counters[key] = self.store.counters.get(key, 0) + delta
        uow.run_after_commit()

    def reindex(self, res_type: str | None = None, res_id: str | None = None) -> int:
        return sum(1 for k in self.store.current if (res_type in (None, k[0])) and (res_id in (None, k[1])))
