"""Where SQLite keeps the searches' paging lists: a small database file of their own beside the
main one (``<file>-paging``).

A search with more than one page stores its ordered ids (``search/sql/paging.py``). In the main
SQLite file that insert needed the one write lock, so every paged search waited behind whatever
was writing. At 100,000 residents, the audit trail's flush of a batch held the lock for up to
130 ms (``benchmarks/README.md``). A read transaction that tried the insert after another commit
failed, and had to run again as a writer.

The lists are scratch state: they live an hour, and a lost one only means the next page runs the
search again at its offset. So on SQLite they go to a file whose only writers are other searches'
one-row inserts. PostgreSQL keeps them in the main database, since it has row locks and no single
writer. So do in-memory and URI-named SQLite databases (a read-only ``immutable`` file among
them), where there is no file beside them to write.
"""

from __future__ import annotations

import logging
import threading
from typing import cast

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.schema import CreateIndex, CreateTable

from fhir_server.storage.db import create_db_engine
from fhir_server.storage.index_tables import SearchSession

log = logging.getLogger(__name__)

SUFFIX = "-paging"  # beside the main file, as SQLite's own -wal and -shm
SESSIONS = cast(Table, SearchSession.__table__)

_engines: dict[Engine, Engine | None] = {}  # main engine → its lists' engine (None: none of its own)
_guard = threading.Lock()


def lists_engine(bind: Engine | Connection) -> Engine | None:
    """The engine of the paging lists' own file for the database ``bind`` is of; None: the lists
    stay in it (PostgreSQL, in-memory or URI-named SQLite, or a file that cannot be made)."""
    main = bind.engine
    if main.dialect.name != "sqlite":
        return None
    try:
        return _engines[main]  # every paged search asks: no lock once known
    except KeyError:
        pass
    database = main.url.database
    with _guard:
        if main not in _engines:
            beside = database and database != ":memory:" and not database.startswith("file:")
            _engines[main] = _open(main, f"{database}{SUFFIX}") if beside else None
        return _engines[main]


def dispose(main: Engine) -> None:
    """Close the lists' engine of ``main`` (its database is being closed)."""
    with _guard:
        engine = _engines.pop(main, None)
    if engine is not None:
        engine.dispose()


def _open(main: Engine, path: str) -> Engine | None:
    engine = create_db_engine(main.url.set(database=path).render_as_string(hide_password=False))
    try:
        with engine.execution_options(jiayi_write=True).begin() as conn:  # several workers may race here
            conn.execute(CreateTable(SESSIONS, if_not_exists=True))
            for index in SESSIONS.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))
    except Exception as exc:  # noqa: BLE001 - a read-only folder: the lists stay in the main file
        log.warning("paging lists kept in the main database: %s cannot be written (%s)", path, type(exc).__name__)
        engine.dispose()
        return None
    return engine
