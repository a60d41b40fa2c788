"""The delivery worker: handshakes, then the outbox, one subscription at a time, in order.

Runs as a thread (in each ``jiayi serve`` worker process, or in ``jiayi worker``).  It sleeps
until a write of this process enqueued something (:meth:`Delivery.wake`) or ``poll_seconds``
passed (writes of other processes, retries that came due).  Everything it coordinates on is in
the database: a subscription is delivered by whoever holds its lease, its rows in ``seq``
order, each deleted once the subscriber took it (at least once: a crash between the POST and
the delete sends it again).  A subscription that is not ``active`` keeps its rows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from fhir_server.core.clock import Clock, system_clock
from fhir_server.core.instants import to_utc_naive
from fhir_server.repository.base import StoredResource
from fhir_server.storage import outbox
from fhir_server.subscriptions import owner as owners
from fhir_server.subscriptions import records
from fhir_server.subscriptions.channels import DeliveryFailed, RestHook, WebSocketHub
from fhir_server.subscriptions.notification import event_body, handshake_body
from fhir_server.subscriptions.schedule import RetryPolicy

log = logging.getLogger("jiayi.subscriptions")
LEASE = timedelta(seconds=60)
BATCH = 100  # rows of one subscription per turn
LINGER_SECONDS = 0.02  # a turn after a wake-up waits this long, so one turn takes several notifications
REQUESTED_CHECK = 2.0  # seconds between looks for subscriptions other processes were asked for


class Delivery:
    def __init__(self, repository, policy: RetryPolicy | None = None, rest_hook: RestHook | None = None,
                 hub: WebSocketHub | None = None, base_url: str = "http://localhost/fhir",
                 clock: Clock = system_clock, poll_seconds: float = 1.0,
                 on_status: Callable[[], None] | None = None) -> None:
        self.repository = repository
        self.database = repository.database
        self.policy = policy or RetryPolicy()
        self.rest_hook = rest_hook or RestHook()
        self.hub = hub or WebSocketHub()
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.on_status = on_status
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._look_for_requested = True
        self._requested_checked = 0.0
        self._hints: set[str] = set()  # subscriptions this process enqueued for since the last turn
        self._hints_lock = threading.Lock()
        self._due_checked = 0.0

    # -- the thread ---------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="jiayi-subscriptions", daemon=True)
            self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self, subscription_ids: Iterable[str] = ()) -> None:
        """Something was committed: the subscriptions it enqueued for are delivered next turn."""
        with self._hints_lock:
            self._hints.update(subscription_ids)
        self._wake.set()

    def subscription_changed(self) -> None:
        """A Subscription was written here: look for requested ones at the next turn."""
        self._look_for_requested = True
        self._wake.set()

    def _requested_check_due(self) -> bool:
        """Requested subscriptions are looked for when this process wrote one, and every
        REQUESTED_CHECK seconds for those written by other processes."""
        now = time.monotonic()
        if self._look_for_requested or now - self._requested_checked >= REQUESTED_CHECK:
            self._look_for_requested, self._requested_checked = False, now
            return True
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - the worker outlives a bad turn (database restart...)
                log.exception("subscription delivery turn failed; retrying")
                busy = False
            if not busy and self._wake.wait(self.poll_seconds):
                # woken by a commit: let the writes committing beside it join this turn
                self._stop.wait(LINGER_SECONDS)

    # -- one turn -----------------------------------------------------------------------------
    def run_once(self) -> int:
        """Handshake the requested subscriptions, deliver what is due; the notifications sent."""
        if self._requested_check_due():
            self.handshake_requested()
        with self._hints_lock:
            due, self._hints = self._hints, set()
        if not due or time.monotonic() - self._due_checked >= self.poll_seconds:
            # retries that came due, other processes' notifications
            self._due_checked = time.monotonic()
            with self.database.session() as session:
                due.update(outbox.due_subscriptions(session, self._now()))
        return sum(self.deliver(subscription_id) for subscription_id in sorted(due))

    def handshake_requested(self) -> None:
        with self.repository.unit_of_work() as uow:
            requested = [s for s in uow.scan("Subscription") if records.status_of(s) == records.REQUESTED]
        for subscription in requested:
            with self._leased(str(subscription["id"])) as leased:
                if leased:
                    self._handshake(subscription)

    def _handshake(self, subscription: dict) -> None:
        channel = records.channel_of(subscription)
        version = int(subscription.get("meta", {}).get("versionId") or 1)
        try:
            if channel.type == records.REST_HOOK:
                self.rest_hook.send(channel, handshake_body(channel, subscription, self.base_url))
        except DeliveryFailed as failed:
            self._set_status(subscription["id"], version, records.ERROR,
                             f"Handshake with the endpoint failed: {failed}")
            return
        if self._set_status(subscription["id"], version, records.ACTIVE):
            with self.database.session(write=True) as session:
                outbox.resume(session, str(subscription["id"]), self._now())

    def deliver(self, subscription_id: str) -> int:
        """One turn of one subscription: the lease taken and its due rows read in one
        transaction, sent in order until one fails, then what was sent deleted (and the lease
        released) in one more."""
        now = self._now()
        sent: list[int] = []
        failure: tuple | None = None
        current: StoredResource | None = None
        owner: dict | None = None
        with self.repository.unit_of_work(write=True) as uow:
            if not outbox.take_lease(uow.session, subscription_id, self.holder, now, now + LEASE):
                return 0
            found = outbox.subscription_with_owner(uow.session, subscription_id)
            if found is not None:
                version, updated, deleted, content, owner = found
                current = StoredResource("Subscription", subscription_id, version, updated, deleted, content)
            batch = self._batch(uow, current, owner, now) if current is not None and not current.deleted else []
        try:
            for row, content in batch:
                try:
                    if content is not None:
                        self._send(current, row, content)  # type: ignore[arg-type]
                except DeliveryFailed as failed:
                    failure = (row, str(failed))
                    break
                sent.append(row.seq)
        finally:
            with self.database.session(write=True) as session:
                if current is None or current.deleted:
                    outbox.forget(session, subscription_id)
                outbox.delivered(session, sent)
                outbox.release_lease(session, subscription_id, self.holder)
        if failure is not None and current is not None:
            row, reason = failure
            self._failed(current, row, reason, self._now())
        return len(sent)

    def _batch(self, uow, current: StoredResource, owner_record: dict | None, now: datetime) -> list[tuple]:
        """The due rows of an active subscription, each with the content to send (None: not
        sent, only dropped: the version is gone or outside the owner's reach)."""
        if records.status_of(current.content) != records.ACTIVE:
            return []
        owner = owners.from_record(owner_record)
        batch = []
        for row in outbox.head(uow.session, current.res_id, BATCH):
            if row.due > now:
                break
            content = row.content
            if content is not None and not owners.may_see(uow, owner, row.res_type, row.res_id):
                log.info("subscription %s: %s/%s is outside its owner's reach; not sent",
                         current.res_id, row.res_type, row.res_id)
                content = None
            batch.append((row, content))
        return batch

    def _send(self, current: StoredResource, row, content: dict) -> None:
        subscription = current.content or {}
        channel = records.channel_of(subscription)
        if channel.type == records.WEBSOCKET:
            self.hub.ping(current.res_id)
            return
        reference = f"{row.res_type}/{row.res_id}"
        self.rest_hook.send(channel, event_body(channel, subscription, content, reference, self.base_url, row.seq))

    def _failed(self, current: StoredResource, row, reason: str, now: datetime) -> None:
        attempts = row.attempts + 1
        first = row.first_failure or now
        failing_for = now - first
        gives_up = self.policy.gives_up(failing_for)
        wait = self.policy.late_cap if gives_up else self.policy.wait(attempts, failing_for)
        with self.database.session(write=True) as session:
            outbox.postpone(session, current.res_id, row.seq, now + wait, attempts, first, reason)
        log.warning("subscription %s: delivery attempt %d failed (%s)", current.res_id, attempts, reason)
        if gives_up:
            hours = self.policy.period.total_seconds() / 3600
            self._set_status(current.res_id, current.version, records.ERROR,
                             f"Notifications could not be delivered for {hours:g} hours ({attempts} attempts); "
                             f"last: {reason}. They are kept: set status to 'requested' to resume.")

    # -- helpers ------------------------------------------------------------------------------
    def _set_status(self, subscription_id: str, version: int, status: str, error: str | None = None) -> bool:
        """The server's own update of the subscription (no client principal: the owner stays)."""
        with self.repository.unit_of_work(write=True) as uow:
            current = uow.get("Subscription", subscription_id)
            if current is None or current.deleted or current.version != version:
                return False  # changed meanwhile: the next turn looks again
            uow.save("PUT", "Subscription", subscription_id,
                     records.with_status(current.content or {}, status, error), current)
        if self.on_status is not None:
            self.on_status()
        return True

    def _leased(self, subscription_id: str):
        return _Lease(self, subscription_id)

    def _now(self) -> datetime:
        return to_utc_naive(self.clock())


class _Lease:
    def __init__(self, delivery: Delivery, subscription_id: str) -> None:
        self.delivery = delivery
        self.subscription_id = subscription_id

    def __enter__(self) -> bool:
        d = self.delivery
        now = d._now()
        with d.database.session(write=True) as session:
            self.taken = outbox.take_lease(session, self.subscription_id, d.holder, now, now + LEASE)
        return self.taken

    def __exit__(self, *exc) -> None:
        if self.taken:
            with self.delivery.database.session(write=True) as session:
                outbox.release_lease(session, self.subscription_id, self.delivery.holder)
