"""A request's wall-clock and CPU budget (issue 18: no single request may hold a worker).

The API starts a deadline when a request arrives (``JIAYI_REQUEST_TIMEOUT`` seconds of wall
clock and ``JIAYI_REQUEST_CPU_TIMEOUT`` seconds of the request thread's CPU, see
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
_cpu_deadline: ContextVar[float | None] = ContextVar("jiayi_cpu_deadline", default=None)


class OverBudget(FHIRError):
    """503: the request used up its time budget; nothing it did is kept."""

    status = 503

    def __init__(self, message: str = "") -> None:
        text = message or ("The request took longer than this server's per-request budget and was stopped; "
                           "nothing was written. Narrow the request (fewer matches, includes or entries)")
        super().__init__([Issue("too-costly", text)], status=503)


def start(seconds: float | None, cpu_seconds: float | None = None) -> None:
    """Give the current request ``seconds`` of wall clock from now and ``cpu_seconds`` of its
    thread's CPU (``time.thread_time``: a request runs on one thread); None or 0: no limit."""
    _deadline.set(time.monotonic() + seconds if seconds else None)
    _cpu_deadline.set(time.thread_time() + cpu_seconds if cpu_seconds else None)


def clear() -> None:
    _deadline.set(None)
    _cpu_deadline.set(None)


def deadline() -> float | None:
    """The monotonic time the current request must end by, or None."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left (never negative), or None without a deadline."""
    at = _deadline.get()
    return None if at is None else max(0.0, at - time.monotonic())


def checkpoint() -> None:
    """Raise :class:`OverBudget` when the current request is past its wall-clock or CPU deadline."""
    at = _deadline.get()
    if at is not None and time.monotonic() > at:
        raise OverBudget()
    cpu_at = _cpu_deadline.get()
    if cpu_at is not None and time.thread_time() > cpu_at:
        raise OverBudget("The request used more CPU than this server's per-request budget and was stopped; "
                         "nothing was written. Narrow the request (fewer matches, includes or entries)")
