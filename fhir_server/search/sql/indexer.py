"""Index rows on write (called by the repository inside its write transaction) and ``$reindex``.

The registry is refreshed from stored SearchParameter resources when their (count, newest
last_updated) changes, so every server process sees a custom parameter after its commit
without a restart.  It is cached per database (one app's custom parameters are never another
database's), and callers get it explicitly: ``uow.search_params()`` calls :func:`current_registry`.
"""

from __future__ import annotations

import time
import weakref
from datetime import datetime
from functools import lru_cache
from itertools import chain

import orjson
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from fhir_server.search import pinyin
from fhir_server.search.index import COLUMN_PARAMS, base_code, index_entries, kinds_of, plan, text_entries
from fhir_server.search.params import KINDS
from fhir_server.search.registry import ParamRegistry, base_registry
from fhir_server.storage.db import sqlite_datetime, sqlite_insert_rows
from fhir_server.storage.index_tables import INDEX_TABLES, TEXT_TABLE
from fhir_server.storage.models import ResourceRow

REGISTRY_TTL = 2.0  # seconds between checks for SearchParameters stored by other processes


class _Cache:
    """The registry last loaded from one database, when it was checked, and whether a
    SearchParameter committed through this process makes it stale."""

    def __init__(self) -> None:
        self.registry: ParamRegistry = base_registry()
        self.checked = float("-inf")
        self.stale = False


_caches: dict[str, _Cache] = {}  # by database URL: every engine on one database sees the same rows
_by_engine: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()  # by engine: the above, or
# an in-memory SQLite database's own
_WRITER = "jiayi.search.wrote_search_parameter"  # session.info keys
_OWN = "jiayi.search.own_registry"


def _cache(session: Session) -> _Cache:
    engine = session.get_bind().engine
    found = _by_engine.get(engine)  # every write asks: rendering the URL each time was 1% of a write's CPU
    if found is None:
        if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
            found = _Cache()  # each in-memory database is its own
        else:
            found = _caches.setdefault(str(engine.url), _Cache())
        _by_engine[engine] = found
    return found


def _wrote_search_parameter(session: Session) -> None:
    """This transaction reads a registry of its own until it ends; once it commits, every
    other one reloads the shared registry."""
    if _WRITER in session.info:
        return
    session.info[_WRITER] = _cache(session)
    event.listen(session, "after_commit", _ended, once=True)
    event.listen(session, "after_rollback", _ended, once=True)


def _ended(session: Session) -> None:
    cache = session.info.pop(_WRITER, None)
    session.info.pop(_OWN, None)
    if cache is not None:
        cache.stale = True  # after a rollback too: harmless, one reload


def current_registry(session: Session, max_age: float = 0.0) -> ParamRegistry:
    """The registry including active stored SearchParameters of this session's database.

    One small query (count and newest last_updated of SearchParameter rows) tells whether it
    changed; with ``max_age`` that query runs at most that often.  A SearchParameter written
    by this process is seen at once: by its own transaction (from a registry of that
    transaction's own, never shared), by other transactions once it is committed."""
    if _WRITER in session.info:
        return _own_registry(session)
    cache = _cache(session)
    now = time.monotonic()
    if max_age and not cache.stale and now - cache.checked < max_age:
        return cache.registry
    stamp = _stamp(session)
    cache.checked = now
    if cache.registry.stamp != stamp or cache.stale:
        cache.stale = False
        cache.registry = _load(session, stamp)
    return cache.registry


def _stamp(session: Session) -> tuple:
    return tuple(session.execute(
        select(func.count(), func.max(ResourceRow.last_updated)).where(ResourceRow.res_type == "SearchParameter")
    ).one())


def _load(session: Session, stamp: tuple) -> ParamRegistry:
    rows = session.scalars(select(ResourceRow.content).where(
        ResourceRow.res_type == "SearchParameter", ResourceRow.deleted.is_(False)))
    return base_registry().with_custom([c for c in rows if c], stamp)


def _own_registry(session: Session) -> ParamRegistry:
    """The registry a transaction that wrote a SearchParameter sees (its uncommitted writes
    included), kept in the session: the shared cache holds committed rows only."""
    stamp = _stamp(session)
    own = session.info.get(_OWN)
    if own is None or own.stamp != stamp:
        own = session.info[_OWN] = _load(session, stamp)
    return own


IndexRows = dict[str, list[tuple]]  # index table kind → rows (res_type, res_id, param, values...)


def index_resource(session: Session, res_type: str, res_id: str, resource: dict | None, *,
                   new: bool = False, pending: IndexRows | None = None) -> None:
    """Replace every index row of ``res_type/res_id`` (``resource`` None: it was deleted).

    ``new``: the resource never existed before (its first version), so it has no rows to delete.
    ``pending``: add the new rows there instead of inserting them; the caller writes them with
    :func:`write_index_rows` before anything searches (a transaction's rows in a few statements)."""
    registry = current_registry(session, REGISTRY_TTL)
    connection = session.connection()
    dialect = connection.dialect
    if not new and pending:
        write_index_rows(session, pending)  # rows of this resource may be among them
    for sql, owners in () if new else _delete_sql(dialect.name, dialect.paramstyle, kinds_of(registry, res_type)):
        connection.exec_driver_sql(sql, (res_type, res_id) * owners)
    if res_type == "SearchParameter":
        _wrote_search_parameter(session)
    if resource is None:
        return
    by_table: IndexRows = {}
    _add_rows(by_table, registry, dialect.name, res_type, res_id, index_entries(registry, res_type, resource))
    texts = text_entries(resource)
    if texts:  # the full-text rows go with the others (one multi-row INSERT for many resources)
        by_table[TEXT_ROWS] = [(res_type, res_id, code, " ".join(tokens)) for code, tokens in texts.items()]
    if pending is None:
        write_index_rows(session, by_table)
        return
    for kind, values in by_table.items():
        pending.setdefault(kind, []).extend(values)


def index_server_records(session: Session, res_type: str, records: list[tuple[str, dict, dict[str, list]]],
                         pending: IndexRows) -> None:
    """The index rows of first versions the server built itself (AuditEvents: ``(id, resource,
    nodes)``), added to ``pending``: see :func:`server_record_rows`."""
    registry = current_registry(session, REGISTRY_TTL)
    dialect = session.get_bind().dialect.name
    for res_id, resource, nodes in records:
        for kind, rows in server_record_rows(registry, dialect, res_type, res_id, resource, nodes).items():
            pending.setdefault(kind, []).extend(rows)


_NODE_ROWS: dict[tuple, tuple[tuple, ...]] = {}  # (dialect, type, code, FHIR type, node) → its rows' values
_NODE_ROWS_MAX = 20_000  # cleared when full: the codings, agents and patients of a day's events recur


def server_record_rows(registry: ParamRegistry, dialect: str, res_type: str, res_id: str, resource: dict,
                       nodes: dict[str, list]) -> IndexRows:
    """The rows :func:`index_resource` would write for ``resource`` (the same rows, tested),
    made from ``nodes`` (code → the ``(value, FHIR type)`` nodes its builder picked out) rather
    than by evaluating each parameter's expression, and without full-text rows (``_text`` and
    ``_content`` do not find it).  Server-built records repeat the same values (their codings,
    the same user, the same patients), so each node's rows are made once and remembered.
    Parameters not in ``nodes`` (a custom SearchParameter) are evaluated as usual."""
    picked, evaluate = _record_plan(registry, res_type, tuple(nodes))
    convert = _sqlite_value if dialect == "sqlite" else None
    by_table: IndexRows = {}
    for code, kind, columns in picked:
        values = nodes[code]
        if not values:
            continue
        seen: set[tuple] = set()
        once = kind == "date"  # an instant: each event's own
        table = by_table.setdefault(kind, [])
        for node in values:
            key = None if once else (dialect, res_type, code, node[1],
                                     orjson.dumps(node[0], option=orjson.OPT_SORT_KEYS))
            made = _NODE_ROWS.get(key) if key else None
            if made is None:
                made = tuple(tuple(_value(row.get(c), convert) for c in columns)
                             for row in KINDS[kind].index_rows(node))
                if key:
                    if len(_NODE_ROWS) >= _NODE_ROWS_MAX:
                        _NODE_ROWS.clear()
                    _NODE_ROWS[key] = made
            for values_ in made:
                if values_ not in seen:  # as index_entries: a parameter's equal rows once
                    seen.add(values_)
                    table.append((res_type, res_id, code, *values_))
    if evaluate is not None:
        evaluated = index_entries(registry, res_type, resource, skip=evaluate)
        _add_rows(by_table, registry, dialect, res_type, res_id, evaluated)
    return by_table


def _record_plan(registry: ParamRegistry, res_type: str, codes: tuple[str, ...]
                 ) -> tuple[tuple[tuple[str, str, tuple[str, ...]], ...], frozenset[str] | None]:
    """For a builder's parameter codes: the ``(code, kind, value columns)`` whose rows are made
    from its nodes, and the codes :func:`index_entries` must skip when the rest are evaluated the
    usual way (composites, names with pinyin forms, custom SearchParameters), None when nothing
    is left to evaluate.  Once per registry, type and code list (a builder's codes never change)."""
    cache = registry.__dict__.setdefault("_record_plans", {})
    found = cache.get((res_type, codes))
    if found is None:
        params = registry.for_type(res_type)
        picked, evaluate = [], set()
        for code in codes:
            param = params.get(code)
            if param is None or not param.indexed:
                continue
            if param.type == "composite" or pinyin.applies(res_type, code):
                evaluate.add(code)
            else:
                picked.append((code, param.type, _VALUE_COLUMNS[param.type]))
        rest = evaluate or _unpicked(registry, res_type, frozenset(codes))
        found = cache[(res_type, codes)] = (
            tuple(picked), COLUMN_PARAMS | (frozenset(codes) - evaluate) if rest else None)
    return found


def _unpicked(registry: ParamRegistry, res_type: str, picked: frozenset[str]) -> bool:
    """Has ``res_type`` indexed parameters beyond ``picked`` (custom SearchParameters)?  Per registry."""
    cache = registry.__dict__.setdefault("_unpicked", {})
    found = cache.get((res_type, picked))
    if found is None:
        found = cache[(res_type, picked)] = any(
            p.code not in picked and p.code not in COLUMN_PARAMS for p, _, _ in plan(registry, res_type))
    return found


def _add_rows(by_table: IndexRows, registry: ParamRegistry, dialect: str, res_type: str, res_id: str,
              entries: dict[str, list[dict]]) -> None:
    params = registry.for_type(res_type)
    convert = _sqlite_value if dialect == "sqlite" else None
    for code, rows in entries.items():
        kind = params[base_code(code)].type
        columns = _VALUE_COLUMNS[kind]
        by_table.setdefault(kind, []).extend(
            (res_type, res_id, code, *(_value(row.get(c), convert) for c in columns)) for row in rows)


def write_index_rows(session: Session, by_table: IndexRows, bulk: bool = False) -> None:
    """Insert the rows and empty ``by_table``: on PostgreSQL one ``INSERT … SELECT FROM unnest``
    per table (one array per column); on SQLite an ``executemany`` of a one-row INSERT per table
    (``storage.db.sqlite_insert_rows``: 40% less CPU than multi-row INSERTs, whose SQL text
    differs with the row count and is parsed again each time), or for a ``bulk`` batch (a
    background writer's) one statement over the rows' JSON text; elsewhere one
    multi-row INSERT per table and 200 rows (a round trip each)."""
    connection = session.connection()
    paramstyle = connection.dialect.paramstyle
    postgres = connection.dialect.name == "postgresql"
    if connection.dialect.name == "sqlite":
        for kind, values in by_table.items():
            if values:
                sqlite_insert_rows(connection, _TABLE_NAMES[kind], _row_columns(kind),
                                   bulk and "float8" not in _column_types(kind), values)
        by_table.clear()
        return
    for kind, values in by_table.items():
        if postgres:
            for start in range(0, len(values), UNNEST_ROWS):
                connection.exec_driver_sql(_unnest_sql(kind), _columns(kind, values[start:start + UNNEST_ROWS]))
            continue
        for start in range(0, len(values), 200):
            chunk = values[start:start + 200]
            connection.exec_driver_sql(_insert_sql(kind, len(chunk), paramstyle), tuple(chain.from_iterable(chunk)))
    by_table.clear()


# psycopg parses a statement's text for its placeholders on every execution once the text is
# longer than 4 KiB or has more than 50 parameters (it caches only smaller ones): a multi-row
# INSERT of 200 rows cost more CPU in that parser than in everything else of a write.  The
# unnest form has one parameter per column, so its text is short, parsed once and prepared.
UNNEST_ROWS = 5000
_ARRAY_TYPES = {"String": "varchar", "Text": "text", "DateTime": "timestamp", "Float": "float8",
                "Integer": "int4"}


@lru_cache(maxsize=64)
def _column_types(kind: str) -> tuple[str, ...]:
    table = INDEX_TABLES.get(kind, TEXT_TABLE)
    by_name = {c.name: type(c.type).__name__ for c in table.columns}
    return tuple(_ARRAY_TYPES[by_name[c]] for c in ("res_type", "res_id", "param", *_VALUE_COLUMNS[kind]))


@lru_cache(maxsize=64)
def _unnest_sql(kind: str) -> str:
    columns = ("res_type", "res_id", "param", *_VALUE_COLUMNS[kind])
    arrays = ", ".join(f"%b::{t}[]" for t in _column_types(kind))  # binary: no quoting of each element
    return f"INSERT INTO {_TABLE_NAMES[kind]} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


def _columns(kind: str, rows: list[tuple]) -> tuple[list, ...]:
    """The rows as one list per column; numbers as floats (an array holds one element type)."""
    columns = tuple(list(c) for c in zip(*rows, strict=True))
    for n, name in enumerate(_column_types(kind)):
        if name == "float8":
            columns[n][:] = [None if v is None else float(v) for v in columns[n]]
    return columns


# Index writes are the hot path of every create/update, so they go to the driver as plain SQL
# (built once per shape) rather than through statement compilation.
_VALUE_COLUMNS = {kind: tuple(c.name for c in table.columns if c.name not in ("id", "res_type", "res_id", "param"))
                  for kind, table in INDEX_TABLES.items()}
TEXT_ROWS = "_text"  # the key of the full-text rows (``search_text``) among a resource's rows
_VALUE_COLUMNS[TEXT_ROWS] = ("tokens",)
_TABLE_NAMES = {**{kind: table.name for kind, table in INDEX_TABLES.items()}, TEXT_ROWS: TEXT_TABLE.name}


def _marker(paramstyle: str) -> str:
    return "?" if paramstyle == "qmark" else "%s"


@lru_cache(maxsize=64)
def _row_columns(kind: str) -> tuple[str, ...]:
    return ("res_type", "res_id", "param", *_VALUE_COLUMNS[kind])


@lru_cache(maxsize=1024)
def _insert_sql(kind: str, rows: int, paramstyle: str) -> str:
    columns = _row_columns(kind)
    one = "(" + ", ".join([_marker(paramstyle)] * len(columns)) + ")"
    return f"INSERT INTO {_TABLE_NAMES[kind]} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)


@lru_cache(maxsize=256)
def _delete_sql(dialect: str, paramstyle: str, kinds: frozenset[str]) -> tuple[tuple[str, int], ...]:
    """DELETEs of one resource's rows from the tables its type can have rows in; on PostgreSQL
    one statement (data-modifying CTEs), so a write costs one round trip, not one per table."""
    m = _marker(paramstyle)
    names = [INDEX_TABLES[k].name for k in sorted(kinds)] + [TEXT_TABLE.name]
    if dialect != "postgresql" or len(names) < 2:
        return tuple((f"DELETE FROM {n} WHERE res_type = {m} AND res_id = {m}", 1) for n in names)
    parts = ", ".join(f"d{i} AS (DELETE FROM {n} WHERE res_type = {m} AND res_id = {m})" for i, n in enumerate(names))
    return ((f"WITH {parts} SELECT 1", len(names)),)


def _value(value: object, convert: object) -> object:
    return convert(value) if convert is not None and isinstance(value, datetime) else value  # type: ignore[operator]


_sqlite_value = sqlite_datetime  # SQLAlchemy's SQLite DATETIME text form: range comparisons stay lexical


def reindex(session: Session, res_type: str | None = None, res_id: str | None = None,
            batch: int = 500) -> int:
    """Rebuild the index rows of current resources (all, one type, or one resource); returns the count."""
    query = select(ResourceRow.res_type, ResourceRow.res_id, ResourceRow.content).where(
        ResourceRow.deleted.is_(False))
    if res_type:
        query = query.where(ResourceRow.res_type == res_type)
    if res_id:
        query = query.where(ResourceRow.res_id == res_id)
    rows = session.execute(query.order_by(ResourceRow.res_type, ResourceRow.res_id)).all()
    for type_, id_, content in rows:
        index_resource(session, type_, id_, content)
    return len(rows)
