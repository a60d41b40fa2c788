"""The kept MeasureReport summaries in the database (``kept_measure_report``), shared by every
serving process and kept across restarts (the rules of keeping are ``familydoctor/measures/kept.py``).

Each statement runs in a short transaction of its own: a write here is a cache's, never part of a
client's write, and on SQLite it takes the write lock only for one row.
"""

from __future__ import annotations

import logging
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from fhir_server.storage.db import Database
from fhir_server.storage.models import KeptReportRow

log = logging.getLogger(__name__)

KEPT = cast(Table, KeptReportRow.__table__)


class Stored(NamedTuple):
    report: dict
    stamp: str | None
    seen: float  # epoch seconds


def _upsert(dialect_insert):
    statement = dialect_insert(KEPT)
    return statement.on_conflict_do_update(index_elements=[KEPT.c.key], set_={
        "stamp": statement.excluded.stamp, "seen": statement.excluded.seen, "report": statement.excluded.report})


_UPSERT = {"postgresql": _upsert(postgresql_insert), "sqlite": _upsert(sqlite_insert)}
_READ = select(KEPT.c.report, KEPT.c.stamp, KEPT.c.seen).where(KEPT.c.key == bindparam("key"))
_SEEN = update(KEPT).where(KEPT.c.key == bindparam("k"), KEPT.c.stamp == bindparam("s"),
                           KEPT.c.seen < bindparam("t")).values(seen=bindparam("t"))


class KeptStore:
    """Read and write the kept summaries of one database.  A failure (the table not there yet, the
    database busy or read-only) is logged and treated as nothing kept: the caller evaluates."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def read(self, key: str) -> Stored | None:
        try:
            with self.database.session() as session:
                row = session.execute(_READ, {"key": key}).one_or_none()
        except DBAPIError as exc:
            log.warning("kept MeasureReport not read: %s", type(exc).__name__)
            return None
        return None if row is None else Stored(row[0], row[1], float(row[2]))

    def write(self, key: str, stored: Stored) -> None:
        self._run(_UPSERT[self.database.dialect],
                  {"key": key, "stamp": stored.stamp, "seen": stored.seen, "report": stored.report})

    def seen(self, key: str, stamp: str, when: float) -> None:
        """The data are still as the kept summary with ``stamp`` counted them at ``when``."""
        self._run(_SEEN, {"k": key, "s": stamp, "t": when})

    def prune(self, before: float) -> None:
        """Drop the summaries whose data were last seen before ``before`` (no one asks for them)."""
        self._run(delete(KEPT).where(KEPT.c.seen < before), {})

    def _run(self, statement, parameters: dict) -> None:
        try:
            with self.database.session(write=True) as session:
                session.execute(statement, parameters)
        except DBAPIError as exc:
            log.warning("kept MeasureReport not written: %s", type(exc).__name__)
