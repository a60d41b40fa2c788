"""Engines and sessions for SQLite (embedded, WAL) and PostgreSQL (production).

SQLite writers take the database lock at ``BEGIN IMMEDIATE`` rather than at their first
write: a deferred transaction that reads and then writes can fail with "database is locked"
when another writer got in between, which would turn a version check into a lost update.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.core import budget
from fhir_server.storage import checkpoints, documents

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PROGRESS_STEPS = 20_000
STATEMENT_TIMEOUT_SLACK_MS = 1_000  # PostgreSQL: how far the kept statement_timeout may be from the time left
_TIMEOUT_KEY = "jiayi_statement_timeout_ms"  # virtual-machine steps between two looks at the request's deadline
# SQLite keeps no planner statistics of its own: refreshed (sampled, see PlannerStatistics)
# once this many resources were written, then each time the written count doubles.
SQLITE_FIRST_ANALYZE = 500
SQLITE_ANALYSIS_LIMIT = 2000  # rows sampled per index: an ANALYZE costs milliseconds, not a table scan


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def create_db_engine(url: str) -> Engine:
    url = normalize_url(url)
    dialect = make_url(url).get_backend_name()
    if dialect == "sqlite":
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        json_serializer=documents.to_postgres,
        json_deserializer=documents.from_database,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        hide_parameters=True,  # error logs name the statement, never its values (身份证号, phones)
        connect_args=_postgres_session_options(url),
    )

    @event.listens_for(engine, "begin")
    def _budget(connection):
        # the request's time left bounds every statement of this transaction; the setting is kept
        # on the connection and sent only when it is off by more than STATEMENT_TIMEOUT_SLACK_MS
        # (a request's first transaction then costs no extra round trip)
        left = budget.remaining()
        wanted = 0 if left is None else max(1, int(left * 1000))  # 0: no limit (work outside a request)
        current = connection.info.get(_TIMEOUT_KEY)
        if current is None or (wanted == 0) != (current == 0) or abs(wanted - current) > STATEMENT_TIMEOUT_SLACK_MS:
            connection.exec_driver_sql(f"SET statement_timeout = {wanted}")
            connection.info[_TIMEOUT_KEY] = wanted

    @event.listens_for(engine, "rollback")
    def _forget_timeout(connection):
        connection.info.pop(_TIMEOUT_KEY, None)  # a SET inside a rolled-back transaction is undone

    return engine


PLAN_CACHE_MODE = "force_custom_plan"


def _postgres_session_options(url: str) -> dict[str, str]:
    """Plan every statement for its own values (``plan_cache_mode``, sent at connection start).

    psycopg prepares a statement after a few runs, and PostgreSQL then switches to one generic
    plan when it costs about the same as the custom ones: for an index table whose values are
    skewed (a team's contracts, a resident's BP panels among 100k) the generic plan walks the
    whole table.  Measured on a 100k-resident district: a team's contracts 695 → 48 ms, a
    resident's BP since a date 1,050 → 7 ms.  A deployment's own ``options`` in the URL win."""
    if "options" in make_url(url).query:
        return {}
    return {"options": f"-c plan_cache_mode={PLAN_CACHE_MODE}"}


_SET_LOCAL = "SELECT current_setting(%s), set_config(%s, %s, true)"
_SET_BACK = "SELECT set_config(%s, %s, true)"


@contextmanager
def postgres_setting(connection: Connection | Session, name: str, value: str) -> Iterator[None]:
    """PostgreSQL's setting ``name`` at ``value`` for the statements run inside, within the current
    transaction, and as it was afterwards (a deployment's own value included).  Sent on the
    driver's connection, in the same transaction: a doctor's every read does this around its
    relationship check, and SQLAlchemy's execution of the two statements cost 0.13 ms of CPU
    against 0.03 ms on the driver."""
    bound = connection.connection() if isinstance(connection, Session) else connection
    driver = bound.connection.driver_connection
    before = _driver_row(driver, _SET_LOCAL, (name, name, value))[0]
    try:
        yield
    finally:
        _driver_row(driver, _SET_BACK, (name, before))


def _driver_row(driver, sql: str, parameters: tuple) -> tuple:
    import psycopg

    try:
        return driver.execute(sql, parameters).fetchone()
    except psycopg.Error as error:  # as SQLAlchemy would raise it (the repository maps those to 503)
        raise DBAPIError.instance(sql, None, error, psycopg.Error, hide_parameters=True) from error


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        json_serializer=documents.to_sqlite,
        json_deserializer=documents.from_database,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        hide_parameters=True,  # error logs name the statement, never its values (身份证号, phones)
    )

    database = make_url(url).database or ""
    checkpointed = database not in ("", ":memory:") and not database.startswith("file:")

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # let SQLAlchemy, not the driver, decide when transactions begin (see module doc)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if database not in ("", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        if checkpointed:  # the log is copied back by a thread (storage/checkpoints.py), not by commits
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoints.BACKSTOP}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        write = connection.get_execution_options().get("jiayi_write", False)
        _progress_handler(connection.connection.dbapi_connection, budget.deadline())
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    if checkpointed:
        @event.listens_for(engine, "commit")
        def _committed(connection):
            if connection.get_execution_options().get("jiayi_write", False):
                checkpoints.note(engine)

    return engine


def sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text form, so range comparisons stay lexical and exact."""
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:"
            f"{value.second:02d}.{value.microsecond:06d}")


# A background writer's batch of at least this many rows goes to SQLite as one statement over a
# JSON array of the rows (``json_each``) instead of an ``executemany`` stepped per row.  The driver
# releases the GIL around every step, so beside runnable request threads each row waited to take
# the GIL back: the audit trail's writer spent 2-3x the CPU on a batch that way (docs/decisions.md,
# "A background writer's batch goes to SQLite in one statement").  Alone, the JSON form costs
# ~15% more CPU than ``executemany``, and a request's own writes were measured 5% slower with it
# (in-process ingest), so requests keep the per-row form.
ONE_STATEMENT_ROWS = 64


def sqlite_insert_rows(connection: Connection, table: str, columns: tuple[str, ...], one_statement: bool,
                       rows: list[tuple]) -> None:
    """INSERT ``rows`` (values as the driver takes them: text, integers, None) into ``table``:
    with ``one_statement`` and many rows (:data:`ONE_STATEMENT_ROWS`) one statement over their
    JSON text, else :func:`sqlite_executemany`.  Pass ``one_statement`` False for columns of
    floats (SQLite's JSON reader need not round them exactly as the driver binds them); values
    JSON cannot carry as the driver would (other types, text with NUL characters) fall back to
    the per-row form by themselves."""
    if one_statement and len(rows) >= ONE_STATEMENT_ROWS:
        try:
            data: bytes | None = orjson.dumps(rows)
        except TypeError:  # a type JSON lacks
            data = None
        if data is not None and b"\\u0000" not in data:
            _sqlite_execute(connection, _json_insert_sql(table, columns), (data.decode("utf-8"),), many=False)
            return
    sqlite_executemany(connection, _values_insert_sql(table, columns), rows)


@lru_cache(maxsize=64)
def _json_insert_sql(table: str, columns: tuple[str, ...]) -> str:
    picked = ", ".join(f"value->>{n}" for n in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM json_each(?)"


@lru_cache(maxsize=64)
def _values_insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def sqlite_executemany(connection: Connection, sql: str, rows: list[tuple]) -> None:
    """``executemany`` of plain SQL on the SQLite driver's own cursor, in ``connection``'s
    transaction: the write path's buffered INSERTs (history, current and index rows) without
    SQLAlchemy's execution context per statement (about 40 µs each, a quarter of a single
    create's INSERT time).  Values must already be what the driver takes (text, numbers, None).
    A driver error is raised as SQLAlchemy's, as ``exec_driver_sql`` would (the repository maps
    those to 409/503)."""
    _sqlite_execute(connection, sql, rows, many=True)


def _sqlite_execute(connection: Connection, sql: str, parameters, many: bool) -> None:
    import sqlite3

    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, None, error, sqlite3.Error, hide_parameters=True) from error
    finally:
        cursor.close()


def _progress_handler(dbapi_connection, deadline: float | None) -> None:
    """SQLite's side of the request budget: a statement still running past the deadline is
    interrupted ("interrupted", mapped to 503 by the repository).  Cleared for work without one."""
    if deadline is None:
        dbapi_connection.set_progress_handler(None, 0)
        return
    dbapi_connection.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_PROGRESS_STEPS)


class PlannerStatistics:
    """Keeps SQLite's query-planner statistics (``sqlite_stat1``) in step with the data.

    Without them SQLite plans ``Observation?encounter=X`` by walking every Observation in
    ``_lastUpdated`` order and testing each against the index subquery, so a search (and every
    write rule that searches) slows down linearly with the database.  With them it starts from
    the index rows.  PostgreSQL's autovacuum does this job there.  The statistics are sampled
    (``analysis_limit``) and refreshed on a doubling schedule of written resources, so their cost
    stays a rounding error of the writes that trigger them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.written = 0
        self.next_at = SQLITE_FIRST_ANALYZE
        self._lock = threading.Lock()

    def note(self, written: int) -> None:
        if not written:
            return
        with self._lock:
            self.written += written
            if self.written < self.next_at:
                return
            self.next_at = self.written * 2
        self.refresh()

    def refresh(self) -> None:
        """ANALYZE, sampled; a busy database just postpones it (the data is already committed)."""
        try:
            with self.engine.execution_options(jiayi_write=True).connect() as conn:
                conn.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        except OperationalError as exc:
            log.warning("planner statistics not refreshed: %s", exc)


class Database:
    """An engine plus a session factory; the repository opens units of work from it."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = create_db_engine(self.url)
        self.dialect = self.engine.dialect.name
        self.statistics = PlannerStatistics(self.engine) if self.dialect == "sqlite" else None
        self._readers = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        writer = self.engine.execution_options(jiayi_write=True)
        self._writers = sessionmaker(writer, expire_on_commit=False, autoflush=False)
        self.closing: list[Callable[[], None]] = []  # run by dispose() first (what is queued gets written)

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """One database transaction; committed on success, rolled back on any exception."""
        with (self._writers if write else self._readers)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def written(self, count: int) -> None:
        """``count`` resources were committed (the planner statistics follow the data's growth)."""
        if self.statistics is not None:
            self.statistics.note(count)

    def analyze(self) -> None:
        """Planner statistics now, e.g. after a bulk load."""
        if self.statistics is not None:
            self.statistics.refresh()
        elif self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()

    def dispose(self) -> None:
        from fhir_server.storage import paging_lists  # it builds engines with this module's functions

        for close in self.closing:
            close()
        paging_lists.dispose(self.engine)
        checkpoints.forget(self.engine)
        self.engine.dispose()
