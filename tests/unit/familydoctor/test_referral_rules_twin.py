"""The referral, slot and care-plan rules on the in-memory repository twin with a fixed clock:
opening times at exact instants, and the Task state machine table, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from referral_world import CS, SD, new_world, ref

from fhir_server.app import create_app
from fhir_server.core.clock import counting_ids
from fhir_server.familydoctor.rules.referral_task import ALWAYS, TRANSITIONS, allowed
from fhir_server.repository.memory import MemoryRepository

SLOT_START = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = SLOT_START - timedelta(days=20)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def twin():
    clock = Clock()
    app = create_app({"TESTING": True}, repository=MemoryRepository(clock=clock, ids=counting_ids("t")), clock=clock)
    client = app.test_client()
    world = new_world()
    for resource in world.resources():
        assert client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource).status_code == 201
    return client, world, clock


def _slot(world, name: str, reserved: bool) -> dict:
    slot: dict = {"resourceType": "Slot", "id": world.id(name), "schedule": ref("Schedule", world.id("sch")),
                  "status": "free", "start": "2026-12-20T01:00:00Z", "end": "2026-12-20T01:30:00Z"}
    if reserved:
        slot["extension"] = [{"url": SD + "jiayi-reserved-for-family-doctors", "valueBoolean": True},
                             {"url": SD + "jiayi-family-doctor-open-time", "valueDateTime": "2026-12-06T01:00:00Z"}]
    return slot


def _appointment(world, slot: str, referral: str | None) -> dict:
    # booked: it has its start and end (R4 app-3), the slot's
    appointment = {"resourceType": "Appointment", "status": "booked", "start": "2026-12-20T01:00:00Z",
                   "end": "2026-12-20T01:30:00Z", "slot": [ref("Slot", world.id(slot))],
                   "participant": [{"actor": ref("Patient", world.id("pat")), "status": "accepted"}]}
    if referral:
        appointment["basedOn"] = [ref("ServiceRequest", world.id(referral))]
    return appointment


@pytest.mark.parametrize(("days_before", "reserved_by_referral", "public"), [
    (15, 422, 422),  # before the family-doctor opening (14 days ahead): nobody
    (14, 201, 422),  # the family-doctor opening, to the second
    (10, 201, 422),  # family doctors only
    (7, 201, 201),   # the hospital's public opening (7 days ahead)
])
def test_family_doctors_book_earlier_than_the_public(twin, days_before, reserved_by_referral, public):
    client, world, clock = twin
    client.put(f"/fhir/ServiceRequest/{world.id('up')}", json=world.referral("up"))
    for resource in (_slot(world, "fd", True), _slot(world, "pub", False)):
        client.put(f"/fhir/Slot/{resource['id']}", json=resource)
    clock.now = SLOT_START - timedelta(days=days_before)
    assert client.post("/fhir/Appointment", json=_appointment(world, "fd", "up")).status_code == reserved_by_referral
    assert client.post("/fhir/Appointment", json=_appointment(world, "pub", None)).status_code == public


def test_book_on_the_twin_uses_the_clock(twin):
    client, world, clock = twin
    client.put(f"/fhir/ServiceRequest/{world.id('up')}", json=world.referral("up"))
    client.put(f"/fhir/Slot/{world.id('fd')}", json=_slot(world, "fd", True))
    book = f"/fhir/ServiceRequest/{world.id('up')}/$book"
    assert client.post(book, json={"resourceType": "Parameters"}).status_code == 409  # not open yet
    clock.now = SLOT_START - timedelta(days=13)
    booked = client.post(book, json={"resourceType": "Parameters"})
    assert booked.status_code == 201 and booked.get_json()["id"].startswith("t")
    assert booked.get_json()["created"] == "2026-12-07"


def test_transition_table_matches_the_spec():
    path = ["requested", "received", "accepted", "in-progress", "completed"]
    assert all(allowed(a, b) for a, b in pairwise(path))
    assert allowed("received", "rejected") and allowed("requested", "cancelled") and allowed("in-progress", "failed")
    assert not allowed("in-progress", "cancelled")  # work started: it fails, it is not cancelled
    assert all(allowed(s, ALWAYS) for s in TRANSITIONS)
    assert {s for s, after in TRANSITIONS.items() if not after} == {"rejected", "cancelled", "failed", "completed",
                                                                      "entered-in-error"}


def test_capabilities_list_the_operations_and_the_overdue_parameter(twin):
    client, _world, _clock = twin
    resources = {r["type"]: r for r in client.get("/fhir/metadata").get_json()["rest"][0]["resource"]}
    assert "book" in [o["name"] for o in resources["ServiceRequest"]["operation"]]
    assert "apply" in [o["name"] for o in resources["PlanDefinition"]["operation"]]
    assert "activity-due" in [p["name"] for p in resources["CarePlan"]["searchParam"]]


def test_plan_fill_and_overdue_on_the_twin(twin):
    client, world, _clock = twin
    package = {"resourceType": "PlanDefinition", "id": world.id("pkg"), "status": "active", "title": "糖尿病包",
               "action": [{"code": [{"coding": [{"system": CS + "service-item", "code": "diabetes-follow-up"}]}],
                           "timingTiming": {"repeat": {"frequency": 4, "period": 1, "periodUnit": "a"}}}]}
    client.put(f"/fhir/PlanDefinition/{package['id']}", json=package)
    body = {"resourceType": "Parameters",
            "parameter": [{"name": "subject", "valueString": f"Patient/{world.id('pat')}"},
                          {"name": "persist", "valueBoolean": True}]}
    plan = client.post(f"/fhir/PlanDefinition/{package['id']}/$apply", json=body).get_json()
    # the patient has hypertension (key population): its four follow-ups come with the package's
    codes = [a["detail"]["code"]["coding"][0]["code"] for a in plan["activity"]]
    assert codes.count("diabetes-follow-up") == 4 and codes.count("hypertension-follow-up") == 4
    first_due = plan["activity"][0]["detail"]["scheduledPeriod"]["end"]
    overdue = f"/fhir/CarePlan?activity-due=lt{first_due}T23:59:59Z&subject=Patient/{world.id('pat')}"
    assert client.get(overdue).get_json()["total"] == 1


@pytest.mark.parametrize(("start", "end", "times", "count", "last"), [
    ("2026-01-01", "2026-12-31", 4, 4, "2026-12-31"),
    ("2024-03-01", "2027-02-28", 4, 12, "2027-02-28"),  # three years across a leap day
    ("2026-01-01", "2026-12-31", 12, 12, "2026-12-31"),
    ("2026-01-01", "2027-01-01", 4, 4, "2026-12-31"),  # a year and a day: no stub window
    ("2026-05-10", "2026-11-09", 1, 1, "2026-11-09"),  # half a year, one a year: kept
])
def test_visit_windows(start, end, times, count, last):
    from datetime import date

    from fhir_server.familydoctor.services.care_plans import windows

    found = windows(times, date.fromisoformat(start), date.fromisoformat(end))
    assert len(found) == count and found[-1][1].isoformat() == last
    assert all(b[0] - a[1] == timedelta(days=1) for a, b in pairwise(found))
