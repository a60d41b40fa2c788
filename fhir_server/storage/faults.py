"""What a database error means for the client (issue 18), told apart by the driver's message.

- busy: a concurrent writer holds the lock (SQLite) or a deadlock was broken (PostgreSQL);
  the request may simply run again (409).
- over budget: the request's deadline interrupted a statement (SQLite progress handler,
  PostgreSQL ``statement_timeout``) (503).
- unavailable: the database cannot write now (read-only, disk full, no connection); a 503
  with ``Retry-After``, never a 500.
"""

from __future__ import annotations

BUSY = "busy"
OVER_BUDGET = "over-budget"
UNAVAILABLE = "unavailable"

_SIGNS = (
    (OVER_BUDGET, ("interrupted", "statement timeout", "canceling statement due to statement timeout")),
    (BUSY, ("locked", "deadlock")),
    (UNAVAILABLE, ("readonly database", "read-only transaction", "database or disk is full", "disk full",
                   "no space left", "could not extend file", "unable to open database", "disk i/o error",
                   "connection refused", "server closed the connection", "the database system is")),
)


def classify(error: BaseException) -> str | None:
    """BUSY, OVER_BUDGET, UNAVAILABLE or None (an error of ours: a 500 with an incident number)."""
    text = str(getattr(error, "orig", None) or error).lower()
    for kind, signs in _SIGNS:
        if any(sign in text for sign in signs):
            return kind
    return None
