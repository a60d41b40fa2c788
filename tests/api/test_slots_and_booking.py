"""Reserved slots, their opening times and ``ServiceRequest/[id]/$book`` (SPEC §4 Referrals),
on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from referral_world import load, new_world, put, ref, valid_r4


@pytest.fixture()
def world(app):
    w = new_world()
    load(app.test_client(), w.resources())
    return w


def _appointment(client, world, slot: str, based_on: str | None = None) -> dict:
    # a booked Appointment has its start and end (R4 app-3): the slot's
    times = {k: v for k, v in client.get(f"/fhir/Slot/{world.id(slot)}").get_json().items() if k in ("start", "end")}
    appointment = {"resourceType": "Appointment", "status": "booked", **times,
                   "slot": [ref("Slot", world.id(slot))],
                   "participant": [{"actor": ref("Patient", world.id("pat")), "status": "accepted"}]}
    if based_on:
        appointment["basedOn"] = [ref("ServiceRequest", world.id(based_on))]
    return appointment


def test_reserved_slot_needs_a_family_doctor_referral(client, world):
    load(client, [world.slot("r1", 3, reserved=True), world.referral("up"),
                  world.referral("by-hospital", requester=ref("PractitionerRole", world.id("spec-role")))])
    for based_on in (None, "by-hospital"):
        response = client.post("/fhir/Appointment", json=_appointment(client, world, "r1", based_on))
        assert response.status_code == 422, based_on
        issue = response.get_json()["issue"][0]
        assert issue["code"] == "business-rule" and "reserved for family doctors" in issue["diagnostics"]
    assert client.get(f"/fhir/Slot/{world.id('r1')}").get_json()["status"] == "free"
    response = client.post("/fhir/Appointment", json=_appointment(client, world, "r1", "up"))
    assert response.status_code == 201, response.get_json()
    assert client.get(f"/fhir/Slot/{world.id('r1')}").get_json()["status"] == "busy"
    again = client.post("/fhir/Appointment", json=_appointment(client, world, "r1", "up"))
    assert again.status_code == 409 and "already taken" in again.get_json()["issue"][0]["diagnostics"]


def test_reserved_slot_opens_to_family_doctors_at_its_open_time(client, world):
    load(client, [world.slot("late", 20, reserved=True, open_days_before=14), world.referral("up")])
    response = client.post("/fhir/Appointment", json=_appointment(client, world, "late", "up"))
    assert response.status_code == 422 and "opens to family doctors" in response.get_json()["issue"][0]["diagnostics"]


def test_public_slots_open_at_the_hospital_lead_time(client, world):
    # the hospital opens public booking 7 days ahead; reserved slots opened 14 days ahead
    load(client, [world.slot("pub-far", 10, reserved=False), world.slot("pub-near", 5, reserved=False),
                  world.slot("fd-far", 10, reserved=True), world.referral("up")])
    far = client.post("/fhir/Appointment", json=_appointment(client, world, "pub-far"))
    assert far.status_code == 422 and "7 days before" in far.get_json()["issue"][0]["diagnostics"]
    assert client.post("/fhir/Appointment", json=_appointment(client, world, "pub-near")).status_code == 201
    assert client.post("/fhir/Appointment", json=_appointment(client, world, "fd-far", "up")).status_code == 201


def test_cancelling_an_appointment_frees_its_slot(client, world):
    load(client, [world.slot("c1", 3, reserved=True), world.referral("up")])
    appointment = client.post("/fhir/Appointment", json=_appointment(client, world, "c1", "up")).get_json()
    appointment["status"] = "cancelled"
    assert put(client, appointment).status_code == 200
    assert client.get(f"/fhir/Slot/{world.id('c1')}").get_json()["status"] == "free"


def _book(client, world, referral: str, **params):
    body = {"resourceType": "Parameters",
            "parameter": [{"name": k, "valueDateTime": v} for k, v in params.items()]}
    return client.post(f"/fhir/ServiceRequest/{world.id(referral)}/$book", json=body)


def test_book_takes_the_earliest_open_reserved_slot_and_records_it(client, world):
    load(client, [world.slot("s-public", 1, reserved=False), world.slot("s-later", 4, reserved=True),
                  world.slot("s-early", 2, reserved=True), world.slot("s-busy", 1.5, reserved=True, status="busy"),
                  world.slot("s-closed", 1.2, reserved=True, open_days_before=0.5),
                  world.referral("up"), world.task("task-up", "up", "accepted")])
    response = _book(client, world, "up")
    assert response.status_code == 201, response.get_json()
    appointment = response.get_json()
    assert response.headers["Location"].startswith("http://testserver/fhir/Appointment/")
    assert appointment["slot"] == [ref("Slot", world.id("s-early"))]
    assert appointment["basedOn"] == [ref("ServiceRequest", world.id("up"))]
    actors = [p["actor"]["reference"] for p in appointment["participant"]]
    assert actors == [f"Patient/{world.id('pat')}", f"PractitionerRole/{world.id('spec-role')}"]
    assert client.get(f"/fhir/Slot/{world.id('s-early')}").get_json()["status"] == "busy"
    task = client.get(f"/fhir/Task/{world.id('task-up')}").get_json()
    assert valid_r4(appointment) and valid_r4(task)
    assert task["output"][-1]["valueReference"]["reference"] == f"Appointment/{appointment['id']}"
    second = _book(client, world, "up", notBefore="2100-01-01T00:00:00Z")
    assert second.status_code == 409
    assert "No free slot reserved for family doctors" in second.get_json()["issue"][0]["diagnostics"]
    later = _book(client, world, "up").get_json()
    assert later["slot"] == [ref("Slot", world.id("s-later"))]
    assert _book(client, world, "up").status_code == 409  # nothing left


def test_book_refusals(client, world):
    load(client, [world.slot("s1", 2, reserved=True), world.referral("draft", status="draft"),
                  world.referral("by-hospital", requester=ref("PractitionerRole", world.id("spec-role"))),
                  world.referral("closed"), world.task("task-closed", "closed", "cancelled")])
    for referral in ("draft", "by-hospital", "closed"):
        response = _book(client, world, referral)
        assert response.status_code == 422, referral
        assert response.get_json()["issue"][0]["code"] == "business-rule"
    assert client.post("/fhir/ServiceRequest/nope/$book", json={"resourceType": "Parameters"}).status_code == 404
    bad = client.post(f"/fhir/ServiceRequest/{world.id('draft')}/$book",
                      json={"resourceType": "Parameters",
                            "parameter": [{"name": "notBefore", "valueDateTime": "soon"}]})
    assert bad.status_code == 400
    assert client.get(f"/fhir/ServiceRequest/{world.id('draft')}/$book").status_code == 405
    assert client.get(f"/fhir/Slot/{world.id('s1')}").get_json()["status"] == "free"


def test_concurrent_bookings_never_double_book(app, world):
    client = app.test_client()
    load(client, [world.slot(f"cc{k}", 2 + k / 10, reserved=True) for k in range(3)]
         + [world.referral(f"cc-up{k}") for k in range(6)])

    def attempt(k: int):
        response = _book(app.test_client(), world, f"cc-up{k}")
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, range(6)))
    booked = [body["slot"][0]["reference"] for status, body in results if status == 201]
    assert len(booked) == 3 and len(set(booked)) == 3, results
    assert all(status == 409 for status, _ in results if status != 201)
    for k in range(3):
        found = client.get(f"/fhir/Appointment?slot=Slot/{world.id(f'cc{k}')}").get_json()
        assert found["total"] == 1
