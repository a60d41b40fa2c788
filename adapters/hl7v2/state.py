"""The adapter's own durable state: one SQLite file (stdlib ``sqlite3``), not the server's database.

- ``acks``: the ACK sent for each (sender, MSH-10), so a message sent again is answered with
  the original ACK and not processed twice — across restarts too;
- ``outbox``: outbound messages with their destination, attempts, next attempt time,
  last error and status (pending → sent | refused; nothing is ever deleted by the worker);
- ``tasks``: the referral Tasks the adapter exchanges with an endpoint and the last status
  each side knows, so a change is sent once and a change that came in is not echoed back;
- ``cursor``: where the outbound worker's polling of the server stopped.

WAL mode lets the listener and the sender (two processes) share the file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS acks (
    sender TEXT NOT NULL, control_id TEXT NOT NULL, ack BLOB NOT NULL, code TEXT NOT NULL,
    received REAL NOT NULL, PRIMARY KEY (sender, control_id));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, endpoint TEXT NOT NULL, kind TEXT NOT NULL, about TEXT NOT NULL,
    control_id TEXT NOT NULL, message BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, next_attempt REAL NOT NULL,
    sent REAL, last_error TEXT, ack_code TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, endpoint, id);
CREATE TABLE IF NOT EXISTS tasks (
    task TEXT NOT NULL, endpoint TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL,
    referral TEXT, PRIMARY KEY (task, endpoint));
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Outgoing:
    id: int
    endpoint: str
    kind: str
    about: str
    control_id: str
    message: bytes
    status: str
    attempts: int
    created: float
    next_attempt: float
    sent: float | None
    last_error: str | None
    ack_code: str | None


class State:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- acks ------------------------------------------------------------------------
    def ack_for(self, sender: str, control_id: str) -> bytes | None:
        rows = self._run("SELECT ack FROM acks WHERE sender = ? AND control_id = ?", (sender, control_id))
        return rows[0][0] if rows else None

    def remember_ack(self, sender: str, control_id: str, ack: bytes, code: str) -> None:
        self._run("INSERT OR REPLACE INTO acks (sender, control_id, ack, code, received) VALUES (?, ?, ?, ?, ?)",
                  (sender, control_id, ack, code, time.time()))

    # --- outbox ----------------------------------------------------------------------
    def enqueue(self, endpoint: str, kind: str, about: str, control_id: str, message: bytes) -> int:
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO outbox (endpoint, kind, about, control_id, message, created, next_attempt) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (endpoint, kind, about, control_id, message, now, now))
            return int(cur.lastrowid or 0)

    def due(self, now: float | None = None) -> list[Outgoing]:
        """The oldest pending message of each endpoint, when its next attempt is due (FIFO per endpoint)."""
        now = time.time() if now is None else now
        rows = self._run(
            "SELECT * FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox WHERE status = 'pending' "
            "GROUP BY endpoint) AND next_attempt <= ? ORDER BY id", (now,))
        return [Outgoing(*row) for row in rows]

    def mark_sent(self, item_id: int, ack_code: str) -> None:
        self._run("UPDATE outbox SET status = 'sent', sent = ?, attempts = attempts + 1, ack_code = ?, "
                  "last_error = NULL WHERE id = ?", (time.time(), ack_code, item_id))

    def mark_refused(self, item_id: int, ack_code: str, error: str) -> None:
        """The peer answered AE/AR: kept, visible, not retried (``jiayi hl7 queue --retry ID`` re-queues)."""
        self._run("UPDATE outbox SET status = 'refused', attempts = attempts + 1, ack_code = ?, last_error = ? "
                  "WHERE id = ?", (ack_code, error[:1000], item_id))

    def mark_failed_attempt(self, item_id: int, error: str, delay: float) -> None:
        self._run("UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ?",
                  (time.time() + delay, error[:1000], item_id))

    def retry(self, item_id: int) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE outbox SET status = 'pending', next_attempt = ? WHERE id = ? AND "
                                   "status != 'sent'", (time.time(), item_id))
            return cur.rowcount == 1

    def outbox(self, status: str | None = None, limit: int = 200) -> list[Outgoing]:
        if status:
            rows = self._run("SELECT * FROM outbox WHERE status = ? ORDER BY id DESC LIMIT ?", (status, limit))
        else:
            rows = self._run("SELECT * FROM outbox ORDER BY id DESC LIMIT ?", (limit,))
        return [Outgoing(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        return dict(self._run("SELECT status, COUNT(*) FROM outbox GROUP BY status"))

    # --- tasks -----------------------------------------------------------------------
    def task(self, task: str, endpoint: str) -> tuple[str, str, str | None] | None:
        rows = self._run("SELECT role, status, referral FROM tasks WHERE task = ? AND endpoint = ?", (task, endpoint))
        return rows[0] if rows else None

    def tasks_of(self, task: str) -> list[tuple[str, str, str, str | None]]:
        return self._run("SELECT endpoint, role, status, referral FROM tasks WHERE task = ?", (task,))

    def remember_task(self, task: str, endpoint: str, role: str, status: str, referral: str | None = None) -> None:
        self._run("INSERT INTO tasks (task, endpoint, role, status, referral) VALUES (?, ?, ?, ?, ?) "
                  "ON CONFLICT (task, endpoint) DO UPDATE SET status = excluded.status, "
                  "referral = COALESCE(excluded.referral, tasks.referral)", (task, endpoint, role, status, referral))

    # --- cursor ----------------------------------------------------------------------
    def cursor(self, name: str) -> str | None:
        rows = self._run("SELECT value FROM cursor WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_cursor(self, name: str, value: str) -> None:
        self._run("INSERT OR REPLACE INTO cursor (name, value) VALUES (?, ?)", (name, value))
