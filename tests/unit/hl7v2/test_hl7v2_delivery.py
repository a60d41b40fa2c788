"""Outbound delivery: the outbox survives, retries with backoff while the hospital is down,
keeps refused messages visible, and sends each endpoint's messages in order."""

from __future__ import annotations

import pytest
from e2e.hl7v2_support import FakeHospital, free_port
from hl7v2_messages import adt_a04

from adapters.fhir_client import FhirClient
from adapters.hl7v2 import er7
from adapters.hl7v2 import state as outbox_state
from adapters.hl7v2.config import Config, Endpoint
from adapters.hl7v2.sender import Sender
from adapters.hl7v2.state import State


def _sender(tmp_path, port: int) -> Sender:
    config = Config(endpoints=[Endpoint("city", "127.0.0.1", port)], retry_first=0.05, retry_max=0.2)
    return Sender(FhirClient("http://127.0.0.1:9/fhir", retries=0), State(tmp_path / "state.sqlite3"), config,
                  send_timeout=5)


class StoppedClock:
    """The outbox's clock, injected in place of the wall clock: it moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch) -> StoppedClock:
    stopped = StoppedClock(1_800_000_000.0)
    monkeypatch.setattr(outbox_state, "time", stopped)
    return stopped


def test_retries_until_the_hospital_answers_then_in_order(tmp_path, clock):
    port = free_port()
    sender = _sender(tmp_path, port)
    first = sender.state.enqueue("city", "REF^I12", "Task/1", "C1", adt_a04("C1").encode())
    second = sender.state.enqueue("city", "RRI^I12", "Task/1", "C2", adt_a04("C2").encode())
    assert sender.deliver() == 0
    (item,) = [i for i in sender.state.outbox() if i.id == first]
    assert item.status == "pending" and item.attempts == 1 and "Connection" in item.last_error
    assert item.next_attempt == clock.now + 0.05  # the first retry waits retry_first
    assert sender.state.due() == []  # not before then
    clock.now = item.next_attempt
    assert [i.id for i in sender.state.due()] == [first]  # FIFO: the second waits
    sender.state.close()
    sender = _sender(tmp_path, port)  # a restart: the queue is in the file
    hospital = FakeHospital(port)
    try:
        delivered = sender.deliver() + sender.deliver()
        assert delivered == 2
        assert [m.control_id for m in hospital.received] == ["C1", "C2"]
        assert {i.id: i.status for i in sender.state.outbox()} == {first: "sent", second: "sent"}
    finally:
        hospital.close()


def test_a_refusal_is_kept_visible_and_can_be_requeued(tmp_path):
    hospital = FakeHospital()
    hospital.reply_code = "AE"
    sender = _sender(tmp_path, hospital.port)
    try:
        item = sender.state.enqueue("city", "REF^I12", "Task/2", "C3", adt_a04("C3").encode())
        assert sender.deliver() == 0
        (row,) = sender.state.outbox("refused")
        assert row.id == item and row.ack_code == "AE"
        assert sender.state.retry(item)
        hospital.reply_code = "AA"
        assert sender.deliver() == 1
        assert sender.state.outbox("sent")[0].id == item
        assert er7.parse(sender.state.outbox("sent")[0].message).control_id == "C3"
    finally:
        hospital.close()


def test_the_steps_an_rri_implies_on_the_referral_state_machine():
    from adapters.hl7v2.service import implied_steps

    assert implied_steps("requested", "accepted") == []  # allowed directly
    assert implied_steps("requested", "completed") == ["accepted", "in-progress"]
    assert implied_steps("accepted", "completed") == ["in-progress"]
    assert implied_steps("accepted", "failed") == ["in-progress"]
    assert implied_steps("in-progress", "completed") == []
    assert implied_steps("requested", "rejected") == [] and implied_steps("completed", "completed") == []


class Recorded(list):
    def record(self, event: dict) -> None:
        self.append(event)


def test_final_outcomes_are_recorded_as_export_audit_events(tmp_path):
    hospital = FakeHospital()
    hospital.reply_code = "AE"
    sender = _sender(tmp_path, hospital.port)
    sender.recorder = recorded = Recorded()  # type: ignore[assignment]
    try:
        item = sender.state.enqueue("city", "REF^I12", "Task/2", "C4", adt_a04("C4").encode())
        assert sender.deliver() == 0
        sender.state.retry(item)
        hospital.reply_code = "AA"
        assert sender.deliver() == 1
    finally:
        hospital.close()
    assert [(e["type"]["code"], e["outcome"]) for e in recorded] == [("110106", "4"), ("110106", "0")]
    refused = recorded[0]
    assert refused["entity"][0]["what"]["identifier"]["value"] == "C4"
    assert refused["entity"][0]["name"] == "JIAYI|JIAYI"  # the receiver (MSH-5|MSH-6)
    assert refused["entity"][1]["what"] == {"reference": "Task/2"} and refused["outcomeDesc"]
    assert {d["type"]: d["valueString"] for d in refused["entity"][0]["detail"]} == {
        "ACK": "AE", "status": "refused", "attempts": "1"}


def test_failed_attempts_are_recorded_as_pending_with_attempts_and_error(tmp_path, clock):
    sender = _sender(tmp_path, free_port())  # nobody listens there
    sender.recorder = recorded = Recorded()  # type: ignore[assignment]
    sender.state.enqueue("city", "REF^I12", "Task/5", "C5", adt_a04("C5").encode())
    assert sender.deliver() == 0
    clock.now += 1
    assert sender.deliver() == 0
    assert [e["outcome"] for e in recorded] == ["4", "4"]
    details = [{d["type"]: d["valueString"] for d in e["entity"][0]["detail"]} for e in recorded]
    assert details == [{"status": "pending", "attempts": "1"}, {"status": "pending", "attempts": "2"}]
    assert "Connection" in recorded[-1]["outcomeDesc"] and recorded[-1]["entity"][1]["what"] == {"reference": "Task/5"}
