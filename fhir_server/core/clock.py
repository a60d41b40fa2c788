"""Time and ids are injected (STYLE habit 8): tests pass a fixed clock and a counting id factory."""

from __future__ import annotations

import itertools
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
