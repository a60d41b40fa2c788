"""After each write, the notifications it causes: criteria matched and outbox rows inserted in
the write's own transaction (committed with it, rolled back with it).

The write pays for an in-memory match against the active subscriptions of its type (kept in a
cache refreshed every few seconds, and at once when this process writes a Subscription) and
one batched INSERT at the end of its unit of work; delivery happens elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fhir_server.core.errors import FHIRError
from fhir_server.core.instants import parse_fhir_range, to_utc_naive
from fhir_server.repository.base import UnitOfWork, WriteEvent
from fhir_server.storage import outbox
from fhir_server.subscriptions import records
from fhir_server.subscriptions.criteria import Criteria, matches, parse_criteria

log = logging.getLogger("jiayi.subscriptions")
REFRESH_SECONDS = 2.0  # another process's new or changed subscription is seen within this


@dataclass(frozen=True, slots=True)
class Active:
    id: str
    criteria: Criteria
    end: datetime | None = None  # Subscription.end (UTC, naive): no notification for writes from then on

    def in_force(self, now: datetime) -> bool:
        return self.end is None or now < self.end


class ActiveSubscriptions:
    """The active subscriptions by the resource type their criteria names."""

    def __init__(self, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.refresh_seconds = refresh_seconds
        self._by_type: dict[str, list[Active]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._loaded_at = None

    def of_type(self, uow: UnitOfWork, res_type: str) -> list[Active]:
        loaded = self._loaded_at
        if loaded is None or time.monotonic() - loaded > self.refresh_seconds:
            self._load(uow)
        return self._by_type.get(res_type, [])

    def _load(self, uow: UnitOfWork) -> None:
        registry = uow.search_params()
        found: dict[str, list[Active]] = {}
        for subscription in uow.scan("Subscription"):
            if records.status_of(subscription) != records.ACTIVE:
                continue
            try:
                criteria = parse_criteria(subscription.get("criteria"), registry)
            except FHIRError:  # stored before a SearchParameter it used was retired
                log.warning("subscription %s: criteria no longer parses; not matched", subscription.get("id"))
                continue
            active = Active(str(subscription["id"]), criteria, _end(subscription))
            found.setdefault(criteria.res_type, []).append(active)
        with self._lock:
            self._by_type, self._loaded_at = found, time.monotonic()


def _end(subscription: dict) -> datetime | None:
    """When the server is to turn the subscription off (R4 ``Subscription.end``), or None."""
    end = subscription.get("end")
    if not isinstance(end, str):
        return None
    try:
        return parse_fhir_range(end, "end")[0]
    except FHIRError:  # an invalid instant was refused on write; never fatal here
        return None


@dataclass
class _Pending:
    events: list[tuple[str, str, int, dict]] = field(default_factory=list)
    scheduled: bool = False
    round: int = 0


class Enqueuer:
    """The write hook (``after_write``) and the end-of-unit-of-work insert."""

    def __init__(self, active: ActiveSubscriptions, wake: Callable[[set[str]], None]) -> None:
        self.active = active
        self.wake = wake
        self._pending: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def after_write(self, uow: UnitOfWork, event: WriteEvent) -> None:
        if event.resource is None or getattr(uow, "session", None) is None:
            return  # deletes notify no one (R4); the in-memory twin has no outbox
        if not self.active.of_type(uow, event.res_type):
            return
        pending = self._pending.setdefault(uow, _Pending())
        version = int(event.resource.get("meta", {}).get("versionId") or 1)
        pending.events.append((event.res_type, event.res_id, version, event.resource))
        if not pending.scheduled:
            pending.scheduled = True
            uow.before_commit(("subscriptions", pending.round), lambda: self._flush(uow, pending))

    def _flush(self, uow: UnitOfWork, pending: _Pending) -> None:
        """Match what the unit of work wrote (all of it written, so criteria that reach other
        resources see them) and insert the notifications in one statement."""
        events, pending.events = pending.events, []
        pending.scheduled, pending.round = False, pending.round + 1
        registry = uow.search_params()
        now = to_utc_naive(uow.now())
        rows = [{"subscription_id": sub.id, "res_type": res_type, "res_id": res_id, "version": version,
                 "created": now}
                for res_type, res_id, version, content in events
                for sub in self.active.of_type(uow, res_type)
                if sub.in_force(now) and matches(uow, sub.criteria, res_id, content, registry)]
        if rows:
            outbox.enqueue(uow.session, rows)  # type: ignore[attr-defined]
            enqueued = {str(r["subscription_id"]) for r in rows}
            uow.after_commit(lambda: self.wake(enqueued))
