"""A request's wall-clock budget (issue 18: no single request may hold a worker).

The API starts a deadline when a request arrives (``JIAYI_REQUEST_TIMEOUT`` seconds, see
docs/decisions.md); long Python loops call :func:`checkpoint`, and the storage layer turns
the time left into PostgreSQL's ``statement_timeout`` and SQLite's progress handler.  Past
the deadline the work stops with :class:`OverBudget` (503 ``too-costly``), the transaction
rolls back, and the worker serves the next request.  Work outside a request (the CLI, demo
loading, background jobs) has no deadline.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from fhir_server.core.errors import FHIRError, Issue

_deadline: ContextVar[float | None] = ContextVar("jiayi_deadline", default=None)


class OverBudget(FHIRError):
    """503: the request used up its time budget; nothing it did is kept."""

    status = 503

    def __init__(self, message: str = "") -> None:
        text = message or ("The request took longer than this server's per-request budget and was stopped; "
                           "nothing was written. Narrow the request (fewer matches, includes or entries)")
        super().__init__([Issue("too-costly", text)], status=503)


def start(seconds: float | None) -> None:
    """Give the current request (thread or task) ``seconds`` from now; None or 0: no deadline."""
    _deadline.set(time.monotonic() + seconds if seconds else None)


def clear() -> None:
    _deadline.set(None)


def deadline() -> float | None:
    """The monotonic time the current request must end by, or None."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left (never negative), or None without a deadline."""
    at = _deadline.get()
    return None if at is None else max(0.0, at - time.monotonic())


def checkpoint() -> None:
    """Raise :class:`OverBudget` when the current request is past its deadline."""
    at = _deadline.get()
    if at is not None and time.monotonic() > at:
        raise OverBudget()
