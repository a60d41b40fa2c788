"""SQLite's WAL is copied back into the database file by a thread of its own
(``storage/checkpoints.py``), not in whichever commit takes the log past 1,000 pages: a write's
commit notes its database, the thread checkpoints it soon after, and a database being closed is
not checkpointed afterwards.  (SQLite only: PostgreSQL has its own checkpointer.)"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from fhir_server.storage import checkpoints
from fhir_server.storage.db import Database


class _Recorded:
    def __init__(self, monkeypatch) -> None:
        self.results: list[tuple] = []
        self.engines: list = []
        self.done = threading.Event()
        original = checkpoints.checkpoint

        def recorded(engine):
            result = original(engine)
            self.engines.append(engine)
            self.results.append(result)
            self.done.set()
            return result

        monkeypatch.setattr(checkpoints, "checkpoint", recorded)


def _write(database: Database, rows: int) -> None:
    with database.session(write=True) as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (x TEXT)"))
        for n in range(rows):
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": "家" * 500 + str(n)})


def test_a_write_is_checkpointed_by_the_thread_not_by_the_commit(tmp_path, monkeypatch):
    recorded = _Recorded(monkeypatch)
    database = Database(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == checkpoints.BACKSTOP
        with database.session() as session:  # a read commits too, and notes nothing
            session.execute(text("SELECT 1"))
        time.sleep(checkpoints.PAUSE_SECONDS * 2)
        assert recorded.results == []

        _write(database, 3000)  # ~1,500 pages: a commit would have checkpointed past 1,000
        assert recorded.done.wait(10)
        busy, logged, copied = recorded.results[0]
        assert recorded.engines == [database.engine]
        assert busy == 0 and logged > 1000 and copied == logged  # all of it, by the thread
    finally:
        database.dispose()


def test_a_closed_database_is_not_checkpointed_after(tmp_path, monkeypatch):
    recorded = _Recorded(monkeypatch)
    database = Database(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    _write(database, 10)
    database.dispose()  # noted, then closed before the thread's pause is over
    time.sleep(checkpoints.PAUSE_SECONDS * 3)
    assert database.engine not in recorded.engines


def test_databases_without_a_log_of_their_own_are_left_alone(tmp_path, monkeypatch):
    recorded = _Recorded(monkeypatch)
    for url in ("sqlite://", f"sqlite:///file:{tmp_path / 'u.sqlite3'}?uri=true"):
        database = Database(url)
        try:
            _write(database, 10)
            with database.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000  # SQLite's own
        finally:
            database.dispose()
    time.sleep(checkpoints.PAUSE_SECONDS * 3)
    assert recorded.results == []
