"""SQLite's WAL checkpoints, run by a thread of their own instead of in a writer's commit (issue 19).

In WAL mode a commit appends its pages to the log, and SQLite copies the log back into the database
file (a checkpoint, with its ``fsync``) in whichever commit takes the log past 1,000 pages.  A create
writes some 30 pages (the resource, its history and its index rows), so about one create in thirty
paid for everyone's checkpoint: at 100 residents in-process, 2.7 CPU ms a create against 2.3 without,
and 310 against 430 creates a second (``benchmarks/README.md``).

Here each file database's connections raise that line to :data:`BACKSTOP` pages, and a commit that
wrote only notes its engine.  One thread per process then runs a ``PASSIVE`` checkpoint of each noted
database, :data:`PAUSE_SECONDS` after the first commit it has not yet covered.  A passive checkpoint
waits for no reader and no writer: it copies what it can, and SQLite restarts the log from its
beginning at the next write once all of it was copied.  SQLite runs the copy without Python's lock,
so on a machine with two cores the next request goes on meanwhile.  Should the thread fall behind
(or die), a commit that takes the log past the backstop checkpoints as before.

In-memory and URI-named databases (an ``immutable`` file among them) have no log to copy and are
left alone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

BACKSTOP = 10_000  # pages (~40 MB at 4 KiB): past this a commit checkpoints itself (the thread fell behind)
PAUSE_SECONDS = 0.2  # after a commit, the thread waits this long for more commits to copy at once


class _Checkpointer:
    """The thread of one process and the databases written since its last pass."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.noted: dict[Engine, None] = {}  # ordered set: written since their last checkpoint
        self.closed: weakref.WeakSet[Engine] = weakref.WeakSet()  # forgotten: never checkpointed again
        self.lock = threading.Lock()  # guards ``noted`` only: a commit never waits for a checkpoint
        self.checkpointing = threading.Lock()  # held for a checkpoint: forget() waits for it
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="sqlite-checkpoint", daemon=True)
        self.thread.start()

    def note(self, engine: Engine) -> None:
        if engine not in self.noted:  # most commits find it noted already: no lock, no wake-up
            with self.lock:
                self.noted[engine] = None
            self.wake.set()

    def forget(self, engine: Engine) -> None:
        with self.checkpointing:
            self.closed.add(engine)
            with self.lock:
                self.noted.pop(engine, None)

    def _loop(self) -> None:
        while True:
            self.wake.wait()
            self.wake.clear()
            time.sleep(PAUSE_SECONDS)  # let the commits of a burst gather
            with self.lock:
                engines, self.noted = list(self.noted), {}
            for engine in engines:
                with self.checkpointing:  # a database being closed (forget) waits for its checkpoint
                    if engine not in self.closed:
                        checkpoint(engine)


def checkpoint(engine: Engine) -> tuple[int, int, int] | None:
    """A passive checkpoint of ``engine``'s database: (busy, pages in the log, pages copied), or
    None when it could not run (the file is gone or locked against it; the next commit notes it
    again, and the backstop holds meanwhile)."""
    try:
        connection = engine.raw_connection()  # the driver's own: no transaction around the pragma
    except DBAPIError as exc:
        log.debug("checkpoint of %s skipped: %s", engine.url.database, exc)
        return None
    try:
        dbapi: Any = connection.dbapi_connection  # sqlite3.Connection
        dbapi.set_progress_handler(None, 0)  # a request's deadline left on the pooled connection
        row = dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])
    except Exception as exc:  # noqa: BLE001 - sqlite3's own errors: the backstop holds meanwhile
        log.debug("checkpoint of %s skipped: %s", engine.url.database, exc)
        return None
    finally:
        connection.close()


_process: _Checkpointer | None = None
_guard = threading.Lock()


def note(engine: Engine) -> None:
    """``engine``'s database committed a write: its log is copied back soon, by this process's
    thread (started here on first use, and again in a forked worker: threads do not survive fork)."""
    global _process
    process = _process
    if process is None or process.pid != os.getpid():
        with _guard:
            if _process is None or _process.pid != os.getpid():
                _process = _Checkpointer()
            process = _process
    process.note(engine)


def forget(engine: Engine) -> None:
    """``engine`` is being closed: no checkpoint of it is run after this returns."""
    process = _process
    if process is not None and process.pid == os.getpid():
        process.forget(engine)
