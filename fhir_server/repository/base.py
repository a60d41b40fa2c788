"""The repository contract: the only way interactions read and write resources.

A :class:`UnitOfWork` is one database transaction.  Writes inside it go through
:meth:`UnitOfWork.save` / :meth:`UnitOfWork.delete`, which assign the version, stamp
``meta``, append history, refresh the search index and run the write hooks (domain rules,
auditing) in that same transaction.  Two implementations pass the same contract tests:
:mod:`.sql` (SQLite, PostgreSQL) and :mod:`.memory` (the in-memory twin for unit tests).

One write, in this order (:class:`Hooks`):

1. ``validate``: the resource against the profiles it claims (422 with every issue);
2. ``before_write``: the checks, which may refuse the write or amend the resource;
3. the version is stored and indexed;
4. ``after_write``: the derivations, which write resources of their own, and only through
   :meth:`UnitOfWorkBase.write_derived`;
5. at the end of the unit of work, still in its transaction, what was deferred with
   :meth:`UnitOfWorkBase.before_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol, overload

from fhir_server.core import jsonio
from fhir_server.core.errors import BadRequest, Conflict, FHIRError, Issue, Unprocessable
from fhir_server.core.instants import fhir_instant, to_utc_naive
from fhir_server.core.jiayi_names import DERIVED_BY
from fhir_server.validation import validate_resource

MILLISECOND = timedelta(milliseconds=1)
log = logging.getLogger(__name__)


class DatabaseBusy(Conflict):
    """409: the database refused the transaction because of a concurrent write (SQLite's
    lock, a PostgreSQL deadlock); nothing was written, and a request that writes nothing may
    simply run again."""


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored (the current one, or a historical one)."""

    res_type: str
    res_id: str
    version: int
    last_updated: datetime  # naive UTC
    deleted: bool = False
    content: dict | None = None
    method: str = "PUT"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def reference(self) -> str:
        return f"{self.res_type}/{self.res_id}"


@dataclass(frozen=True, slots=True)
class WriteEvent:
    """What a write hook sees: the resource about to be stored and the version it replaces.

    A hook may amend ``resource`` in place (the server's own additions, e.g. the green channel
    of a privileged referral): what the hooks leave is what is stored and indexed."""

    method: str  # POST | PUT | PATCH | DELETE
    res_type: str
    res_id: str
    resource: dict | None  # None for a delete
    previous: StoredResource | None


WriteHook = Callable[["UnitOfWork", WriteEvent], None]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """``_history`` at system, type or instance level (R4 http §history)."""

    res_type: str | None = None
    res_id: str | None = None
    since: datetime | None = None  # versions written at or after
    at: tuple[datetime, datetime] | None = None  # versions current during [low, high)
    count: int = 20
    before_seq: int | None = None  # paging: only versions older than this position


@dataclass(slots=True)
class HistoryPage:
    entries: list[StoredResource]
    total: int
    next_before_seq: int | None  # position to continue from, None on the last page
    first_seq: int | None = None


@dataclass(slots=True)
class Hooks:
    """What runs inside every write transaction, in this order: ``validate`` (the profile
    issues of the resource about to be stored), ``before_write`` (checks: refuse or amend),
    then, once the version is stored and indexed, ``after_write`` (derivations)."""

    before_write: list[WriteHook] = field(default_factory=list)
    after_write: list[WriteHook] = field(default_factory=list)
    validate: Callable[[dict], list[Issue]] | None = None
    installed: bool = False  # create_app installs the domain hooks once per repository


def next_timestamp(clock: Callable[[], datetime], previous: StoredResource | None) -> datetime:
    """Now at millisecond precision (what meta.lastUpdated shows), never before the previous version."""
    now = to_utc_naive(clock())
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    if previous is not None and now <= previous.last_updated:
        now = previous.last_updated + MILLISECOND
    return now


def stamp_meta(resource: dict, res_id: str, version: int, when: datetime, instant: str | None = None) -> dict:
    """Return a copy of ``resource`` with id and ``meta.versionId``/``meta.lastUpdated`` set
    (``instant``: ``when`` as FHIR writes it, when the caller stamps many with one moment)."""
    stamped = dict(resource)
    stamped["id"] = res_id
    if not isinstance(stamped.get("meta") or {}, dict):  # refused before the validator would see it
        raise BadRequest("Resource.meta must be a JSON object", code="structure", expression=["meta"])
    meta = dict(stamped.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant or fhir_instant(when)
    # keep meta's keys in the order of the definition (versionId, lastUpdated first)
    ordered = {"versionId": meta.pop("versionId"), "lastUpdated": meta.pop("lastUpdated")}
    ordered.update(meta)
    stamped["meta"] = ordered
    return _ordered_with_meta(stamped)


def _ordered_with_meta(resource: dict) -> dict:
    head = {"resourceType": resource["resourceType"], "id": resource["id"], "meta": resource["meta"]}
    head.update((k, v) for k, v in resource.items() if k not in head)
    return head


def same_content(a: dict, b: dict) -> bool:
    """Equal apart from id and ``meta.versionId``/``meta.lastUpdated`` (a no-op update writes nothing).

    Decimals compare by their text too (``1.50`` is not ``1.5``: R4 decimal precision)."""
    a, b = without_server_meta(a), without_server_meta(b)
    return a == b and jsonio.dumps(a, sort_keys=True) == jsonio.dumps(b, sort_keys=True)


def tag_derived(resource: dict, because: str) -> dict:
    """A copy tagged ``DERIVED_BY|because`` (any earlier derivation tag replaced): what an
    auditor searches with ``_tag`` to tell the server's own writes from its clients'."""
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag") or [] if not (isinstance(t, dict) and t.get("system") == DERIVED_BY)]
    meta["tag"] = [*tags, {"system": DERIVED_BY, "code": because}]
    return {**resource, "meta": meta}


def without_server_meta(resource: dict) -> dict:
    """A copy without id, ``meta.versionId`` and ``meta.lastUpdated``: what the server assigns."""
    copy = {k: v for k, v in resource.items() if k != "id"}
    if not isinstance(copy.get("meta") or {}, dict):
        return copy  # not an object: validation refuses it with its path
    meta = {k: v for k, v in (copy.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        copy["meta"] = meta
    else:
        copy.pop("meta", None)
    return copy


class UnitOfWorkBase:
    """What both repositories' units of work share: ids and after-commit callbacks."""

    def __init__(self, hooks: Hooks, clock: Callable[[], datetime], ids: Callable[[], str]) -> None:
        self._hooks = hooks
        self._clock = clock
        self._ids = ids
        self._after_commit: list[Callable[[], None]] = []
        self._deferred: dict[Hashable, Callable[[], None]] = {}
        self._deferred_done: set[Hashable] = set()
        self.written = 0  # resources written (created, updated, deleted) by this unit of work
        self.generations: dict[str, int] = {}  # type -> writes of that type so far (memo keys)
        self.memo: dict[Hashable, tuple[int, object]] = {}  # rule lookups, see familydoctor.queries

    def check_write(self, event: WriteEvent, validated: bool = False) -> None:
        """Before the version is stored: its profiles (unless ``validated`` already), then the checks."""
        if not validated and event.resource is not None and self._hooks.validate is not None:
            issues = self._hooks.validate(event.resource)
            if any(i.is_error for i in issues):
                raise Unprocessable(issues)
        run_hooks(self._hooks.before_write, self, event)  # type: ignore[arg-type]

    def derive(self, event: WriteEvent) -> None:
        """After the version is stored and indexed: the derivations."""
        run_hooks(self._hooks.after_write, self, event)  # type: ignore[arg-type]

    def save(self, method: str, res_type: str, res_id: str, resource: dict,
             previous: StoredResource | None) -> StoredResource:
        return self._save(method, res_type, res_id, resource, previous, validated=False)

    def _save(self, method: str, res_type: str, res_id: str, resource: dict, previous: StoredResource | None,
              validated: bool) -> StoredResource:
        raise NotImplementedError

    @overload
    def write_derived(self, resource: dict, *, because: str, previous: StoredResource | None = None,
                      res_id: str | None = None, refuse: Literal[False] = False) -> StoredResource | None: ...

    @overload
    def write_derived(self, resource: dict, *, because: str, previous: StoredResource | None = None,
                      res_id: str | None = None, refuse: Literal[True]) -> StoredResource: ...

    def write_derived(self, resource: dict, *, because: str, previous: StoredResource | None = None,
                      res_id: str | None = None, refuse: bool = False) -> StoredResource | None:
        """Write a resource the server derives (a rule's proposal, a schedule, an operation's
        result): tagged ``meta.tag`` DERIVED_BY|``because``, validated against base R4 and the
        profiles it claims, then saved like any write (its own checks and derivations run).

        An invalid one is not written: None, and the reason logged without the content (no
        personal data in logs); with ``refuse`` (an operation whose result it is) 422 instead.
        ``previous``: the version it replaces (an update); else a new resource (``res_id`` or a
        new id)."""
        res_type = str(resource.get("resourceType"))
        content = tag_derived(without_server_meta(resource), because)
        issues = validate_resource(content, res_type)
        if self._hooks.validate is not None:
            try:
                issues = [*issues, *self._hooks.validate(content)]
            except FHIRError as refused:  # the base write rules refuse at once
                issues = [*issues, *refused.issues]
        errors = [i for i in issues if i.is_error]
        if errors:
            if refuse:
                raise Unprocessable(issues)
            log.warning("derived %s (%s) not written: %s", res_type, because,
                        "; ".join(f"{i.code} at {', '.join(i.expression) or res_type}" for i in errors))
            return None
        method = "PUT" if previous is not None else "POST"
        target = previous.res_id if previous is not None else res_id or self.new_id()
        return self._save(method, res_type, target, content, previous, validated=True)

    def store_server_records(self, res_type: str, records: Iterable[tuple[dict, dict[str, list]]]) -> list[str]:
        """Store resources the server builds itself and nobody changes (its AuditEvents) as new
        resources, in this unit of work: each ``(resource, nodes)`` with ``nodes`` its search
        parameters' values (code → ``(value, FHIR type)`` nodes) as its builder picked them out.
        Not the client write path: no validation and no write hooks (the builder's content is
        trusted), index rows from ``nodes`` and no full-text rows.  Returns the new ids."""
        return [self._save("POST", res_type, self.new_id(), resource, None, validated=True).res_id
                for resource, _nodes in records]

    def wrote(self, res_type: str) -> None:
        """A resource of ``res_type`` was written: what was looked up about that type is stale."""
        self.written += 1
        self.generations[res_type] = self.generations.get(res_type, 0) + 1

    def new_id(self) -> str:
        return self._ids()

    def now(self) -> datetime:
        """The injected clock's now (operations that default to 'today' ask this)."""
        return self._clock()

    def prefetch(self, keys: Iterable[tuple[str, str]]) -> None:
        """A hint: ``get`` is about to be called for these (type, id) keys (the SQL unit of work
        reads them in one query; elsewhere nothing to do)."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def before_commit(self, key: Hashable, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the unit of work's own writes are done, still inside its
        transaction, once per ``key``: a rule about a whole (a visit and all its Observations)
        is judged once, after the transaction wrote every part, not once per part."""
        if key not in self._deferred_done:
            self._deferred.setdefault(key, callback)

    def run_before_commit(self) -> None:
        """The deferred callbacks, in the order they were first asked for; what they write may
        defer more (each key still runs once)."""
        while self._deferred:
            key = next(iter(self._deferred))
            callback = self._deferred.pop(key)
            self._deferred_done.add(key)
            callback()

    def run_after_commit(self) -> None:
        for callback in self._after_commit:
            callback()


class UnitOfWork(Protocol):
    memo: dict[Hashable, tuple[int, object]]  # lookups a rule may reuse until their type is written
    generations: dict[str, int]  # type -> writes of that type so far in this unit of work

    def get(self, res_type: str, res_id: str, *, for_update: bool = False) -> StoredResource | None:
        """The current version (a tombstone if deleted), or None if it never existed."""

    def get_version(self, res_type: str, res_id: str, version: int) -> StoredResource | None: ...

    def save(self, method: str, res_type: str, res_id: str, resource: dict,
             previous: StoredResource | None) -> StoredResource:
        """Store ``resource`` as the next version after ``previous`` (None: the first)."""

    @overload
    def write_derived(self, resource: dict, *, because: str, previous: StoredResource | None = None,
                      res_id: str | None = None, refuse: Literal[False] = False) -> StoredResource | None: ...

    @overload
    def write_derived(self, resource: dict, *, because: str, previous: StoredResource | None = None,
                      res_id: str | None = None, refuse: Literal[True]) -> StoredResource: ...

    def write_derived(self, resource: dict, *, because: str, previous: StoredResource | None = None,
                      res_id: str | None = None, refuse: bool = False) -> StoredResource | None:
        """Store a resource the server derives, tagged and validated; None when invalid
        (with ``refuse``: 422 instead)."""

    def delete(self, res_type: str, res_id: str, previous: StoredResource) -> StoredResource: ...

    def store_server_records(self, res_type: str, records: Iterable[tuple[dict, dict[str, list]]]) -> list[str]:
        """New resources the server built itself (AuditEvents): no validation, no hooks, index
        rows from the given nodes, no full-text rows; the new ids."""

    def search(self, request, page: str | None = None): ...

    def within_reach(self, res_type: str, res_id: str, reach) -> bool:
        """Is the current ``res_type``/``res_id`` within ``reach`` (an ``auth.access.Reach``)?
        One indexed query; the same condition a search under that reach applies."""

    def search_params(self):
        """The search parameters in force for this store (a ``search.registry.ParamRegistry``):
        what a query is parsed against (``parse_search(..., registry=uow.search_params())``)."""

    def scan(self, res_type: str) -> Iterator[dict]:
        """Every current (not deleted) resource of ``res_type``, streamed, in id order: for
        evaluations over a whole population (measures), where search paging would cap out."""

    def history(self, query: HistoryQuery) -> HistoryPage: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    def before_commit(self, key: Hashable, callback: Callable[[], None]) -> None:
        """Run ``callback`` once per ``key`` at the end of the unit of work, inside its transaction."""

    def lock(self, key: str) -> None:
        """Serialise, until commit, every unit of work that locks the same key."""

    def referring(self, res_type: str, param: str, target: str) -> list[StoredResource]:
        """Current resources of ``res_type`` whose reference search parameter ``param`` points
        at ``target`` (``Type/id``), oldest first (a search's default order): a rule's point
        lookup, one indexed query."""

    def counted(self, scope: str, since: str = "") -> int:
        """The sum of the counters of ``scope`` whose bucket sorts at or after ``since``
        (maintained state a rule reads instead of counting resources; see ``add_count``)."""

    def add_count(self, scope: str, bucket: str, delta: int) -> None:
        """Move the counter (``scope``, ``bucket``) by ``delta``, in this unit of work's
        transaction (the caller holds the lock that serialises the rule reading it)."""

    def prefetch(self, keys: Iterable[tuple[str, str]]) -> None:
        """Hint that ``get`` will be called for these (type, id) keys."""

    def new_id(self) -> str: ...

    def now(self) -> datetime: ...

    def reindex(self, res_type: str | None = None, res_id: str | None = None) -> int:
        """Rebuild the search index of current resources (all, one type, one resource); the count."""

    def meta_in_use(self, res_type: str | None = None) -> dict:
        """A Meta with the profiles, tags and security labels current resources carry."""


def meta_union(metas: Iterable[dict]) -> dict:
    """The profiles, tags and security labels of several Meta, each once (system, code), sorted."""
    profiles: set[str] = set()
    codings: dict[str, dict[tuple, dict]] = {"tag": {}, "security": {}}
    for meta in metas:
        profiles.update(p for p in meta.get("profile") or () if isinstance(p, str))
        for key, found in codings.items():
            for coding in meta.get(key) or ():
                if isinstance(coding, dict):
                    found.setdefault((coding.get("system") or "", coding.get("code") or ""), coding)
    result: dict = {}
    if profiles:
        result["profile"] = sorted(profiles)
    for key, found in codings.items():
        if found:
            result[key] = [found[k] for k in sorted(found)]
    return result


class Repository(Protocol):
    hooks: Hooks

    def unit_of_work(self, write: bool = False, bulk: bool = False) -> ContextManager[UnitOfWork]:
        """``bulk``: a background writer's batch, stored beside request threads (the audit
        trail's): on SQLite its buffered rows go in one statement per table, not a step per
        row (``storage.db.sqlite_insert_rows``)."""

    def reindex(self, res_type: str | None = None, res_id: str | None = None) -> int: ...


def run_hooks(hooks: Iterable[WriteHook], uow: UnitOfWork, event: WriteEvent) -> None:
    for hook in hooks:
        hook(uow, event)
