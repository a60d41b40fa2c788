"""Slots (号源) at their edges (SPEC §4 Referrals), written from the survivors of a mutation run
(docs/testing.md, fifth pass): who holds a slot and what a refusal says, a slot set free or busy
by the hospital behind the server's back, a cancelled booking and a booking again, slots that are
gone or never were — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from referral_world import CS, load, new_world, put, ref


@pytest.fixture()
def world(app):
    w = new_world()
    load(app.test_client(), w.resources())
    return w


def _appointment(client, world, *slots: str, based_on: str | None = "up", status: str = "booked") -> dict:
    first = client.get(f"/fhir/Slot/{world.id(slots[0])}").get_json()
    appointment = {"resourceType": "Appointment", "status": status, "start": first["start"], "end": first["end"],
                   "slot": [ref("Slot", world.id(s)) for s in slots],
                   "participant": [{"actor": ref("Patient", world.id("pat")), "status": "accepted"}]}
    if based_on:
        appointment["basedOn"] = [ref("ServiceRequest", world.id(based_on))]
    return appointment


def _slot(client, world, name: str) -> dict:
    return client.get(f"/fhir/Slot/{world.id(name)}").get_json()


def _book(client, appointment: dict):
    return client.post("/fhir/Appointment", json=appointment)


def test_a_slot_taken_says_by_whom_and_where(client, world):
    load(client, [world.slot("s1", 3, reserved=True), world.slot("s2", 3.1, reserved=True), world.referral("up")])
    first = _book(client, _appointment(client, world, "s1"))
    assert first.status_code == 201, first.get_json()
    again = _book(client, _appointment(client, world, "s2", "s1"))
    assert again.status_code == 409
    issue = again.get_json()["issue"][0]
    assert issue["code"] == "business-rule" and issue["expression"] == ["Appointment.slot[1]"]
    assert issue["diagnostics"] == f"Slot/{world.id('s1')} is already taken by Appointment/{first.get_json()['id']}"
    assert _slot(client, world, "s2")["status"] == "free"  # nothing of the refused booking stays


def test_a_slot_the_hospital_marked_busy_is_taken_and_one_it_set_free_is_still_held(client, world):
    load(client, [world.slot("busy", 3, reserved=True, status="busy"), world.slot("held", 3, reserved=True),
                  world.referral("up")])
    refused = _book(client, _appointment(client, world, "busy"))
    assert refused.status_code == 409
    assert refused.get_json()["issue"][0]["diagnostics"] == f"Slot/{world.id('busy')} is already taken (status busy)"
    holder = _book(client, _appointment(client, world, "held")).get_json()
    reset = {**_slot(client, world, "held"), "status": "free"}
    del reset["meta"]
    assert put(client, reset).status_code == 200
    again = _book(client, _appointment(client, world, "held"))
    assert again.status_code == 409
    assert again.get_json()["issue"][0]["diagnostics"] == (
        f"Slot/{world.id('held')} is already taken by Appointment/{holder['id']}")


def test_a_cancelled_booking_lets_the_slot_be_booked_again(client, world):
    load(client, [world.slot("c1", 3, reserved=True), world.referral("up")])
    first = _book(client, _appointment(client, world, "c1")).get_json()
    first["status"] = "cancelled"
    assert put(client, first).status_code == 200
    second = _book(client, _appointment(client, world, "c1"))
    assert second.status_code == 201, second.get_json()
    slot = _slot(client, world, "c1")
    assert slot["status"] == "busy"
    assert {"system": CS + "derived-by", "code": "slot-status"} in slot["meta"]["tag"]


def test_a_slot_stays_busy_while_another_appointment_still_holds_it(client, world):
    """A visit mirrored from the hospital (arrived: not a booking, so not checked) names the slot
    too; cancelling the booking does not free it."""
    load(client, [world.slot("shared", 3, reserved=True), world.referral("up")])
    booking = _book(client, _appointment(client, world, "shared")).get_json()
    visit = _appointment(client, world, "shared", based_on=None, status="arrived")
    assert _book(client, visit).status_code == 201
    booking["status"] = "cancelled"
    assert put(client, booking).status_code == 200
    assert _slot(client, world, "shared")["status"] == "busy"


def test_no_new_slot_version_when_its_status_does_not_change(client, world):
    load(client, [world.slot("v1", 3, reserved=True), world.referral("up")])
    booking = _book(client, _appointment(client, world, "v1")).get_json()
    reset = {**_slot(client, world, "v1"), "status": "free"}
    del reset["meta"]
    version = put(client, reset).get_json()["meta"]["versionId"]
    booking["status"] = "cancelled"
    assert put(client, booking).status_code == 200
    assert _slot(client, world, "v1")["meta"]["versionId"] == version


def test_slots_that_are_gone_or_never_were(client, world):
    load(client, [world.slot("gone", 3, reserved=True), world.slot("kept", 3, reserved=True), world.referral("up")])
    template = _appointment(client, world, "kept")
    assert client.delete(f"/fhir/Slot/{world.id('gone')}").status_code in (200, 204)
    appointment = {**template, "slot": [ref("Slot", world.id("gone")), ref("Slot", world.id("never")),
                                        {"identifier": {"system": "urn:oid:1.2.156.112604.9", "value": "H-1"}},
                                        ref("Slot", world.id("kept"))]}
    response = _book(client, appointment)
    assert response.status_code == 201, response.get_json()
    assert client.get(f"/fhir/Slot/{world.id('gone')}").status_code == 410
    assert client.get(f"/fhir/Slot/{world.id('never')}").status_code == 404
    assert _slot(client, world, "kept")["status"] == "busy"
    cancelled = {**response.get_json(), "status": "cancelled"}
    assert put(client, cancelled).status_code == 200
    assert _slot(client, world, "kept")["status"] == "free"


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_what_the_opening_refusals_say(client, world):
    load(client, [world.slot("fd-late", 20, reserved=True), world.slot("fd", 3, reserved=True),
                  world.slot("public", 10, reserved=False), world.slot("near", 2, reserved=False),
                  world.referral("up")])
    cases = [
        ("fd", None, f"Slot/{world.id('fd')} is reserved for family doctors (家庭医生预留号源): book it through a "
                     "referral by a family doctor (Appointment.basedOn a jiayi-referral ServiceRequest)"),
        ("fd-late", "up", f"Slot/{world.id('fd-late')} opens to family doctors at "
                          + _moment(_slot(client, world, "fd-late")["extension"][1]["valueDateTime"]).isoformat()),
        ("public", None, f"Slot/{world.id('public')} opens for booking at "
                         + (_moment(_slot(client, world, "public")["start"]) - timedelta(days=7)).isoformat()
                         + " (7 days before it starts)"),
    ]
    for slot, based_on, diagnostics in cases:
        response = _book(client, _appointment(client, world, "near", slot, based_on=based_on))
        assert response.status_code == 422, slot
        issue = response.get_json()["issue"][0]
        assert (issue["code"], issue["expression"], issue["diagnostics"]) == (
            "business-rule", ["Appointment.slot[1]"], diagnostics), slot


def test_a_booking_changed_keeps_its_slot_and_a_booking_deleted_frees_it(client, world):
    load(client, [world.slot("k1", 3, reserved=True), world.referral("up")])
    booking = _book(client, _appointment(client, world, "k1")).get_json()
    booking["comment"] = "请携带既往病历"
    assert put(client, booking).status_code == 200
    assert _slot(client, world, "k1")["status"] == "busy"
    assert client.delete(f"/fhir/Appointment/{booking['id']}").status_code in (200, 204)
    assert _slot(client, world, "k1")["status"] == "free"
