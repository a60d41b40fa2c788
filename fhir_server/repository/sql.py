"""The SQL repository (SQLite, PostgreSQL): current rows, history rows and index rows, one
database transaction per unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, aliased

from fhir_server import search
from fhir_server.auth.access import Reach
from fhir_server.core import budget
from fhir_server.core.clock import Clock, IdFactory, ordered_ids, system_clock, uuid_ids
from fhir_server.core.errors import Conflict, ServiceUnavailable
from fhir_server.core.instants import fhir_instant
from fhir_server.repository.base import (
    DatabaseBusy,
    HistoryPage,
    HistoryQuery,
    Hooks,
    StoredResource,
    UnitOfWorkBase,
    WriteEvent,
    next_timestamp,
    stamp_meta,
)
from fhir_server.search.registry import ParamRegistry
from fhir_server.search.sql.reach import visible_instance
from fhir_server.storage import documents, faults
from fhir_server.storage.db import Database, postgres_setting, sqlite_datetime, sqlite_insert_rows
from fhir_server.storage.index_tables import ReferenceIndex
from fhir_server.storage.models import CounterRow, ResourceRow, ResourceVersionRow

# Writes and reads by key are the hot path of every interaction: built once, executed on the
# session's connection (Core, compiled-statement cache) rather than through the ORM.
_CURRENT = select(ResourceRow.version, ResourceRow.last_updated, ResourceRow.deleted, ResourceRow.content).where(
    ResourceRow.res_type == bindparam("t"), ResourceRow.res_id == bindparam("i"))
_CURRENT_FOR_UPDATE = _CURRENT.with_for_update()
_INSERT_CURRENT = insert(ResourceRow)
_UPDATE_CURRENT = update(ResourceRow).where(
    ResourceRow.res_type == bindparam("t"), ResourceRow.res_id == bindparam("i"),
    ResourceRow.version == bindparam("previous"))
_INSERT_VERSION = insert(ResourceVersionRow)
_CURRENT_COLUMNS = ("res_type", "res_id", "version", "last_updated", "deleted", "content")
_VERSION_COLUMNS = ("res_type", "res_id", "version", "last_updated", "method", "deleted", "content")
# in key order, so that concurrent transactions lock their rows (FOR UPDATE) in the same order
_PREFETCH = select(ResourceRow.res_type, ResourceRow.res_id, ResourceRow.version, ResourceRow.last_updated,
                   ResourceRow.deleted, ResourceRow.content).order_by(ResourceRow.res_type, ResourceRow.res_id)
PREFETCH_CHUNK = 400
# a rule's lookup "the resources of type t whose reference parameter p points at tt/ti": one
# statement, compiled once, driven from the index (res_type, param, target_id, target_type) and
# joined to the current rows by key (no ORDER BY: ordering by last_updated made the planners
# walk every resource of the type in that order; the few rows found are sorted in Python)
_REFERRING = select(ResourceRow.res_id, ResourceRow.version, ResourceRow.last_updated, ResourceRow.deleted,
                    ResourceRow.content).select_from(ReferenceIndex).join(
    ResourceRow, and_(ResourceRow.res_type == ReferenceIndex.res_type, ResourceRow.res_id == ReferenceIndex.res_id)
).where(ReferenceIndex.res_type == bindparam("t"), ReferenceIndex.param == bindparam("p"),
        ReferenceIndex.target_id == bindparam("ti"), ReferenceIndex.target_type == bindparam("tt"),
        ResourceRow.deleted.is_(False))
_COUNTED = select(func.coalesce(func.sum(CounterRow.value), 0)).where(
    CounterRow.scope == bindparam("s"), CounterRow.bucket >= bindparam("b"))


def _add_count(dialect_insert):
    statement = dialect_insert(CounterRow)
    return statement.on_conflict_do_update(index_elements=[CounterRow.scope, CounterRow.bucket],
                                           set_={"value": CounterRow.value + statement.excluded.value})


_ADD_COUNT = {"postgresql": _add_count(postgresql_insert), "sqlite": _add_count(sqlite_insert)}
RETRY_AFTER_SECONDS = 30  # a read-only or full database: a person has to act, so not at once


def _stored(row: ResourceRow | ResourceVersionRow, method: str = "PUT") -> StoredResource:
    return StoredResource(row.res_type, row.res_id, row.version, row.last_updated, row.deleted,
                          row.content, getattr(row, "method", method))


class SqlUnitOfWork(UnitOfWorkBase):
    def __init__(self, session: Session, hooks: Hooks, clock: Clock, ids: IdFactory,
                 record_ids: IdFactory = ordered_ids, bulk: bool = False) -> None:
        super().__init__(hooks, clock, ids)
        self.session = session
        self._bulk = bulk  # a background writer's batch: see Repository.unit_of_work
        self._record_ids = record_ids
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._sqlite = session.get_bind().dialect.name == "sqlite"
        # history rows are append-only and read only by vread/history: written in one
        # executemany when the unit of work ends (or before such a read), not one by one
        self._pending_versions: list[dict] = []
        # index rows likewise, until something searches (a transaction's rows in a few INSERTs)
        self._pending_index: dict[str, list[tuple]] = {}
        # first versions (INSERTs of current rows), answered by get() until written
        self._pending_current: dict[tuple[str, str], dict] = {}
        # current rows read ahead by prefetch(), each handed out once by get()
        self._known: dict[tuple[str, str], StoredResource | None] = {}

    def flush(self) -> None:
        """Write what is still buffered; runs before commit and before any read of history or index.

        Statements go out in executemany batches, so a transaction of hundreds of entries costs
        a handful of round trips instead of several per entry."""
        connection = self.session.connection()
        try:
            if self._sqlite:
                self._flush_sqlite(connection)
            if self._pending_current:
                rows, self._pending_current = list(self._pending_current.values()), {}
                connection.execute(_INSERT_CURRENT, rows)
            if self._pending_versions:
                rows, self._pending_versions = self._pending_versions, []
                connection.execute(_INSERT_VERSION, rows)
        except IntegrityError:
            # the whole unit of work is rolled back by the caller; nothing half-written
            raise Conflict("A resource of this request was created by a concurrent request; retry") from None
        if self._pending_index:
            search.write_index_rows(self.session, self._pending_index, self._bulk)

    def _flush_sqlite(self, connection) -> None:
        """The current and history rows on SQLite as plain SQL on the driver's cursor (see
        ``storage.db.sqlite_insert_rows``), each document serialised once for both rows, in the
        text forms SQLAlchemy's types would bind (``tests/storage/test_write_buffering.py``
        compares them)."""
        texts: dict[int, str] = {}  # id(content) → JSON text: a new version's current and history row share it
        stamps: dict[datetime, str] = {}  # a batch's rows mostly share one timestamp

        def text_of(content: dict | None) -> str:
            key = id(content)
            found = texts.get(key)
            if found is None:
                found = texts[key] = documents.to_sqlite(content)
            return found

        def stamp_of(when: datetime) -> str:
            found = stamps.get(when)
            if found is None:
                found = stamps[when] = sqlite_datetime(when)
            return found

        if self._pending_current:
            rows, self._pending_current = list(self._pending_current.values()), {}
            sqlite_insert_rows(connection, "resource", _CURRENT_COLUMNS, self._bulk, [
                (r["res_type"], r["res_id"], r["version"], stamp_of(r["last_updated"]), int(r["deleted"]),
                 text_of(r["content"])) for r in rows])
        if self._pending_versions:
            rows, self._pending_versions = self._pending_versions, []
            sqlite_insert_rows(connection, "resource_version", _VERSION_COLUMNS, self._bulk, [
                (r["res_type"], r["res_id"], r["version"], stamp_of(r["last_updated"]), r["method"],
                 int(r["deleted"]), text_of(r["content"])) for r in rows])

    def prefetch(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the current rows of ``keys`` in one query (locking them on PostgreSQL), for the
        ``get`` calls a transaction is about to make one entry at a time."""
        wanted = sorted(k for k in set(keys) if k not in self._known and k not in self._pending_current)
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start:start + PREFETCH_CHUNK]
            query = _PREFETCH.where(tuple_(ResourceRow.res_type, ResourceRow.res_id).in_(chunk))
            if self._postgres:
                query = query.with_for_update()
            found = {(r[0], r[1]): StoredResource(*r) for r in self.session.connection().execute(query)}
            self._known.update((k, found.get(k)) for k in chunk)

    def lock(self, key: str) -> None:
        """Serialise writers that decide on the same ``key`` until this transaction ends.

        A conditional create searches and then inserts; under READ COMMITTED two such
        transactions can both find nothing, so on PostgreSQL they first take a transaction-level
        advisory lock on the criteria.  SQLite writers already hold the database lock
        (``BEGIN IMMEDIATE``)."""
        if self._postgres:
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    def referring(self, res_type: str, param: str, target: str) -> list[StoredResource]:
        """Current resources of ``res_type`` whose reference parameter ``param`` points at
        ``target`` (``Type/id``), this transaction's own writes included, oldest first: one
        indexed query."""
        target_type, _, target_id = target.partition("/")
        self.flush()
        rows = self.session.connection().execute(
            _REFERRING, {"t": res_type, "p": param, "tt": target_type, "ti": target_id})
        found = {row[0]: StoredResource(res_type, *row) for row in rows}  # one per resource
        return sorted(found.values(), key=lambda s: (s.last_updated, s.res_id))

    def counted(self, scope: str, since: str = "") -> int:
        return int(self.session.connection().execute(_COUNTED, {"s": scope, "b": since}).scalar_one())

    def add_count(self, scope: str, bucket: str, delta: int) -> None:
        """One upsert (``INSERT … ON CONFLICT DO UPDATE``): atomic on its row on PostgreSQL."""
        statement = _ADD_COUNT["postgresql" if self._postgres else "sqlite"]
        self.session.connection().execute(statement, {"scope": scope, "bucket": bucket, "value": delta})

    def get(self, res_type: str, res_id: str, *, for_update: bool = False) -> StoredResource | None:
        key = (res_type, res_id)
        pending = self._pending_current.get(key)
        if pending is not None:
            return StoredResource(res_type, res_id, pending["version"], pending["last_updated"],
                                  pending["deleted"], pending["content"])
        if key in self._known:
            return self._known.pop(key)
        query = _CURRENT_FOR_UPDATE if for_update and self._postgres else _CURRENT
        row = self.session.connection().execute(query, {"t": res_type, "i": res_id}).one_or_none()
        return StoredResource(res_type, res_id, *row) if row else None

    def within_reach(self, res_type: str, res_id: str, reach: Reach) -> bool:
        self.flush()  # this unit of work's own writes count (a written resource is checked)
        self.session.flush()
        query = visible_instance(reach, res_type)
        connection = self.session.connection()
        if not self._postgres:
            return connection.execute(query, {"i": res_id}).first() is not None
        # One plan per connection for this statement: it is the same for every id (and minute), and
        # planning its relationship subqueries anew on every read (plan_cache_mode=force_custom_plan,
        # storage/db.py) cost ~12 ms a read against < 1 ms to run it at 200 residents.
        with postgres_setting(connection, "plan_cache_mode", "force_generic_plan"):
            return connection.execute(query, {"i": res_id}).first() is not None

    def get_version(self, res_type: str, res_id: str, version: int) -> StoredResource | None:
        self.flush()
        row = self.session.execute(select(ResourceVersionRow).where(
            ResourceVersionRow.res_type == res_type, ResourceVersionRow.res_id == res_id,
            ResourceVersionRow.version == version)).scalar_one_or_none()
        return _stored(row) if row else None

    def _save(self, method: str, res_type: str, res_id: str, resource: dict, previous: StoredResource | None,
              validated: bool) -> StoredResource:
        version = previous.version + 1 if previous else 1
        when = next_timestamp(self._clock, previous)
        content = stamp_meta(resource, res_id, version, when)
        event = WriteEvent(method, res_type, res_id, content, previous)
        self.check_write(event, validated)
        self._write_current(res_type, res_id, version, when, False, content, previous)
        self._append_version(res_type, res_id, version, when, method, False, content)
        search.index_resource(self.session, res_type, res_id, content, new=previous is None,
                              pending=self._pending_index)
        self.wrote(res_type)
        self.derive(event)
        return StoredResource(res_type, res_id, version, when, False, content, method)

    def store_server_records(self, res_type: str, records: Iterable[tuple[dict, dict[str, list]]]) -> list[str]:
        """First versions buffered like any insert (one executemany per table at flush), their
        index rows from the builder's nodes; no validation, hooks or full-text rows."""
        when = next_timestamp(self._clock, None)
        instant = fhir_instant(when)  # written once for the batch
        ids, indexed = [], []
        for resource, nodes in records:
            # time-ordered: a stream of them appends to the id-keyed indexes (resources, history,
            # each index table's owner index) instead of dirtying a random page of each per event
            res_id = self._record_ids()
            content = stamp_meta(resource, res_id, 1, when, instant)
            self._pending_current[(res_type, res_id)] = {"res_type": res_type, "res_id": res_id, "version": 1,
                                                         "last_updated": when, "deleted": False, "content": content}
            self._append_version(res_type, res_id, 1, when, "POST", False, content)
            indexed.append((res_id, content, nodes))
            self.wrote(res_type)
            ids.append(res_id)
        search.index_server_records(self.session, res_type, indexed, self._pending_index)
        return ids

    def delete(self, res_type: str, res_id: str, previous: StoredResource) -> StoredResource:
        event = WriteEvent("DELETE", res_type, res_id, None, previous)
        self.check_write(event)
        version = previous.version + 1
        when = next_timestamp(self._clock, previous)
        self._write_current(res_type, res_id, version, when, True, None, previous)
        self._append_version(res_type, res_id, version, when, "DELETE", True, None)
        search.index_resource(self.session, res_type, res_id, None, pending=self._pending_index)
        self.wrote(res_type)
        self.derive(event)
        return StoredResource(res_type, res_id, version, when, True, None, "DELETE")

    def _write_current(self, res_type: str, res_id: str, version: int, when: datetime, deleted: bool,
                       content: dict | None, previous: StoredResource | None) -> None:
        values = {"version": version, "last_updated": when, "deleted": deleted, "content": content}
        key = (res_type, res_id)
        self._known.pop(key, None)
        if previous is None:
            self._pending_current[key] = {"res_type": res_type, "res_id": res_id, **values}
            if res_type == "SearchParameter":
                self.flush()  # the search registry reads SearchParameters from the table
            return
        if key in self._pending_current:
            self.flush()  # created earlier in this unit of work: the row must exist to be updated
        result = self.session.connection().execute(
            _UPDATE_CURRENT, {"t": res_type, "i": res_id, "previous": previous.version, **values})
        if result.rowcount != 1:
            # another transaction wrote a newer version between our read and this write
            raise Conflict(f"{res_type}/{res_id} was changed by a concurrent request; read it again and retry")

    def _append_version(self, res_type: str, res_id: str, version: int, when: datetime, method: str,
                        deleted: bool, content: dict | None) -> None:
        self._pending_versions.append({"res_type": res_type, "res_id": res_id, "version": version,
                                       "last_updated": when, "method": method, "deleted": deleted,
                                       "content": content})

    def scan(self, res_type: str) -> Iterator[dict]:
        query = (select(ResourceRow.content)
                 .where(ResourceRow.res_type == res_type, ResourceRow.deleted.is_(False))
                 .order_by(ResourceRow.res_id).execution_options(yield_per=1000))
        for n, (content,) in enumerate(self.session.execute(query)):
            if n % 1000 == 0:
                budget.checkpoint()  # measures and exports read whole types
            yield content

    def search(self, request, page: str | None = None):
        self.flush()
        self.session.flush()
        return search.execute_search(self.session, request, page)

    def index_session(self) -> Session:
        """The session, with this unit of work's writes flushed: for reads straight from the
        index tables (``$everything``, the KPI measures) that the search engine does not express."""
        self.flush()
        self.session.flush()
        return self.session

    def search_params(self) -> ParamRegistry:
        """The search parameters in force for this database, its active SearchParameters
        included (this transaction's own at once, other processes' within a few seconds)."""
        return search.current_registry(self.session, search.REGISTRY_TTL)

    def reindex(self, res_type: str | None = None, res_id: str | None = None) -> int:
        """Rebuild the index rows of current resources inside this unit of work (``$reindex``)."""
        self.session.flush()
        return search.reindex(self.session, res_type, res_id)

    def meta_in_use(self, res_type: str | None = None) -> dict:
        """The profiles, tags and security labels of current resources (``$meta`` at type/system level)."""
        self.session.flush()
        return search.meta_in_use(self.session, res_type)

    def history(self, query: HistoryQuery) -> HistoryPage:
        self.flush()
        condition = _history_condition(query)
        total = self.session.execute(select(func.count()).select_from(ResourceVersionRow).where(condition)).scalar_one()
        rows_query = select(ResourceVersionRow).where(condition)
        if query.before_seq is not None:
            rows_query = rows_query.where(ResourceVersionRow.seq < query.before_seq)
        rows = self.session.execute(
            rows_query.order_by(ResourceVersionRow.seq.desc()).limit(query.count + 1)).scalars().all()
        more = len(rows) > query.count
        rows = rows[: query.count]
        return HistoryPage([_stored(r) for r in rows], total, rows[-1].seq if more and rows else None,
                           rows[0].seq if rows else None)


def _history_condition(query: HistoryQuery):
    v = ResourceVersionRow
    conditions = []
    if query.res_type:
        conditions.append(v.res_type == query.res_type)
    if query.res_id:
        conditions.append(v.res_id == query.res_id)
    if query.since:
        conditions.append(v.last_updated >= query.since)
    if query.at:
        low, high = query.at
        newer = aliased(ResourceVersionRow)
        superseded_before_low = exists().where(
            newer.res_type == v.res_type, newer.res_id == v.res_id,
            newer.version > v.version, newer.last_updated <= low)
        conditions += [v.last_updated < high, ~superseded_before_low]
    return and_(True, *conditions)


def raise_fault(error: DBAPIError) -> None:
    """A database error the client can act on, as its FHIR error (else the caller re-raises: a 500)."""
    kind = faults.classify(error)
    if kind == faults.BUSY:
        raise DatabaseBusy("The database is busy with a concurrent write; retry the request") from None
    if kind == faults.OVER_BUDGET:
        raise budget.OverBudget() from None
    if kind == faults.UNAVAILABLE:
        raise ServiceUnavailable("The database cannot serve this request now (read-only, full or unreachable); "
                                 "retry later", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None


class SqlRepository:
    def __init__(self, database: Database, clock: Clock = system_clock, ids: IdFactory = uuid_ids,
                 hooks: Hooks | None = None, record_ids: IdFactory = ordered_ids) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.record_ids = record_ids  # ids of the records the server builds (AuditEvents): time-ordered
        self.hooks = hooks or Hooks()

    @contextmanager
    def unit_of_work(self, write: bool = False, bulk: bool = False) -> Iterator[SqlUnitOfWork]:
        try:
            with self.database.session(write=write) as session:
                uow = SqlUnitOfWork(session, self.hooks, self.clock, self.ids, self.record_ids, bulk)
                yield uow
                uow.run_before_commit()
                uow.flush()
        except DBAPIError as exc:
            raise_fault(exc)
            raise
        self.database.written(uow.written)
        uow.run_after_commit()

    def reindex(self, res_type: str | None = None, res_id: str | None = None) -> int:
        with self.database.session(write=True) as session:
            return search.reindex(session, res_type, res_id)
