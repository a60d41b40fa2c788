"""The audit trail's timing (SPEC §6): a write's AuditEvent goes into the write's own unit of
work; the others are stored by a background writer within ``max_age`` (sooner when a batch is
full), kept and retried when the database refuses them, and stored when the trail is closed."""

from __future__ import annotations

import contextlib
import threading
import time

from fhir_server.auth.audit import Audited
from fhir_server.auth.principal import Principal
from fhir_server.interactions.audit import AuditTrail

WHO = Principal("u", fhir_user="Practitioner/d1", remote_addr="10.0.0.1")


class Store:
    def __init__(self) -> None:
        self.batches: list[list[dict]] = []
        self.fail = 0
        self.stored = threading.Event()

    def store_server_records(self, res_type, records):
        assert res_type == "AuditEvent"
        records = list(records)
        assert all(nodes["agent"] for _, nodes in records)  # the index values travel with the event
        self.batches.append([event for event, _ in records])
        self.stored.set()
        return [str(i) for i in range(len(records))]

    @contextlib.contextmanager
    def unit_of_work(self, write=False, bulk=False):
        assert write and bulk  # a background writer's batch: SQLite takes it in one statement per table
        if self.fail:
            self.fail -= 1
            raise RuntimeError("database is locked")
        yield self


def _read(n: int = 0) -> Audited:
    return Audited("read", 200, [f"Patient/p{n}"], [f"p{n}"])


def test_a_write_is_recorded_in_its_own_unit_of_work():
    store = Store()
    trail = AuditTrail(store, max_age=60)
    trail.record(store, WHO, Audited("create", 201, ["Observation/o1"], ["p1"]))
    assert [e["action"] for e in store.batches[0]] == ["C"] and trail.pending() == 0


def test_reads_are_stored_together_within_the_window():
    store = Store()
    trail = AuditTrail(store, max_age=0.3)
    started = time.monotonic()
    for n in range(5):
        trail.record(None, WHO, _read(n))
    assert store.batches == [] and trail.pending() == 5  # not on the request's time
    assert store.stored.wait(5)
    assert 0.25 <= time.monotonic() - started < 5
    assert [len(b) for b in store.batches] == [5]


def test_a_full_batch_is_stored_at_once():
    store = Store()
    trail = AuditTrail(store, batch_size=3, max_age=60)
    for n in range(3):
        trail.record(None, WHO, _read(n))
    assert store.stored.wait(5)
    assert [len(b) for b in store.batches] == [3]


def test_a_refused_batch_is_kept_and_retried():
    store = Store()
    store.fail = 1
    trail = AuditTrail(store, max_age=0.1)
    trail.record(None, WHO, _read())
    assert store.stored.wait(5)
    assert [len(b) for b in store.batches] == [1]


def test_closing_stores_what_is_queued_and_later_events_at_once():
    store = Store()
    trail = AuditTrail(store, max_age=60)
    trail.record(None, WHO, _read(1))
    trail.close()
    assert [len(b) for b in store.batches] == [1]
    trail.record(None, WHO, _read(2))
    assert [len(b) for b in store.batches] == [1, 1]
