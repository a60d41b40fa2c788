"""Time and ids are injected (STYLE habit 8): tests pass a fixed clock and a counting id factory."""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


def system_clock() -> datetime:
    """Now, in UTC, at microsecond precision."""
    return datetime.now(UTC)


def uuid_ids() -> str:
    return str(uuid.uuid4())


def ordered_ids() -> str:
    """A UUID of version 7 (RFC 9562): the Unix time in milliseconds, then 74 random bits.  Ids
    made one after the other sort one after the other, so a stream of new rows (the server's
    AuditEvents) lands at the end of every index keyed by id instead of on a random page of it."""
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10
    return str(uuid.UUID(int=value))


class SteppingClock:
    """A deterministic clock for tests: starts at ``start`` and advances ``step`` per call."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        self._now = start
        self._step = step

    def __call__(self) -> datetime:
        now = self._now
        self._now += self._step
        return now


def counting_ids(prefix: str = "id") -> IdFactory:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


class HasClock(Protocol):
    clock: Clock
