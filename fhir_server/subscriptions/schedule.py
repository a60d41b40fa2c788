"""When to try a notification again (SPEC §4 "Subscriptions": a subscriber that is down loses nothing).

Exponential back-off from one second, doubling per failed attempt, for ``period`` (default 24
hours) counted from the first failure of the notification at the head of the subscription's
queue.  During the first hour the wait never exceeds a minute, so a receiver that comes back
after a restart or a short outage is served within about a minute; afterwards it grows to at
most ``late_cap``.  Past ``period`` the subscription goes to ``error`` (its notifications stay
queued until it is requested again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    period: timedelta = timedelta(hours=24)
    first: timedelta = timedelta(seconds=1)
    early: timedelta = HOUR  # while failing for less than this, the wait is at most early_cap
    early_cap: timedelta = timedelta(minutes=1)
    late_cap: timedelta = timedelta(minutes=15)

    @classmethod
    def of_hours(cls, hours: float) -> RetryPolicy:
        return cls(period=timedelta(hours=hours))

    def wait(self, attempts: int, failing_for: timedelta) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1 = the first), the head having
        failed for ``failing_for`` so far."""
        cap = self.early_cap if failing_for < self.early else self.late_cap
        exponent = min(max(attempts - 1, 0), 30)  # 2**30 s is far past any cap
        return min(self.first * (2 ** exponent), cap)

    def gives_up(self, failing_for: timedelta) -> bool:
        return failing_for >= self.period
