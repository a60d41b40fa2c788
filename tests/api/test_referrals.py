"""Referrals (SPEC §4): the referral Task state machine, automatic priority / green channel,
downward referrals closing the loop — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from referral_world import SD, load, new_world, put, ref

from fhir_server.familydoctor.rules.referral_task import ALWAYS, TRANSITIONS


@pytest.fixture(scope="module")
def world(app):
    w = new_world()
    load(app.test_client(), w.resources())
    return w


def _green(sr: dict) -> bool | None:
    return next((e["valueBoolean"] for e in sr.get("extension", []) if e["url"] == SD + "jiayi-green-channel"), None)


ALLOWED = sorted((a, b) for a, after in TRANSITIONS.items() for b in after | {ALWAYS} if a != b)
REFUSED = [("requested", "completed"), ("requested", "in-progress"), ("received", "in-progress"),
           ("accepted", "completed"), ("rejected", "accepted"), ("completed", "in-progress"),
           ("cancelled", "requested"), ("draft", "accepted"), ("failed", "completed"), ("in-progress", "accepted"),
           ("entered-in-error", "requested")]


def _task_in(client, world, name: str, status: str) -> dict:
    sr = world.referral(f"sr-{name}")
    assert put(client, sr).status_code == 201
    task = world.task(f"task-{name}", f"sr-{name}", status)
    if status == "rejected":
        task["statusReason"] = {"text": "号源已满"}
    assert put(client, task).status_code == 201  # PUT with its own id: a mirrored record, any state
    return task


@pytest.mark.parametrize(("before", "after"), ALLOWED)
def test_every_allowed_transition(client, world, before, after):
    task = _task_in(client, world, f"ok-{before}-{after}", before)
    task["status"] = after
    if after == "rejected":
        task["statusReason"] = {"text": "不符合转诊指征"}
    response = put(client, task)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == after


@pytest.mark.parametrize(("before", "after"), REFUSED)
def test_refused_transitions_name_the_transition(client, world, before, after):
    task = _task_in(client, world, f"no-{before}-{after}", before)
    task["status"] = after
    response = put(client, task)
    assert response.status_code == 409
    issue = response.get_json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert f"'{before}' to '{after}'" in issue["diagnostics"]
    assert client.get(f"/fhir/Task/{task['id']}").get_json()["status"] == before


def test_new_task_by_post_starts_requested_or_draft(client, world):
    assert put(client, world.referral("sr-post")).status_code == 201
    for status, expected in (("in-progress", 422), ("completed", 422), ("requested", 201), ("draft", 201)):
        task = world.task("x", "sr-post", status)
        del task["id"]
        response = client.post("/fhir/Task", json=task)
        assert response.status_code == expected, (status, response.get_json())
        if expected == 422:
            assert response.get_json()["issue"][0]["code"] == "business-rule"


def test_rejected_needs_a_reason_and_ready_is_not_a_referral_state(client, world):
    task = _task_in(client, world, "reason", "received")
    task["status"] = "rejected"
    response = put(client, task)
    assert response.status_code == 422
    assert response.get_json()["issue"][0]["expression"] == ["Task.statusReason"]
    task["status"] = "ready"
    assert put(client, task).status_code == 422


def test_patch_and_transaction_are_checked_too(client, world):
    task = _task_in(client, world, "patch", "requested")
    patch = [{"op": "replace", "path": "/status", "value": "completed"}]
    response = client.patch(f"/fhir/Task/{task['id']}", json=patch, content_type="application/json-patch+json")
    assert response.status_code == 409
    task["status"] = "completed"
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": task, "request": {"method": "PUT", "url": f"Task/{task['id']}"}}]}
    assert client.post("/fhir", json=bundle).status_code == 409
    assert client.get(f"/fhir/Task/{task['id']}").get_json()["status"] == "requested"


def test_tasks_not_about_referrals_are_free(client, world):
    task = {"resourceType": "Task", "status": "completed", "intent": "order", "description": "整理档案"}
    assert client.post("/fhir/Task", json=task).status_code == 201


@pytest.mark.parametrize(("case", "requester", "performer", "contract", "green"), [
    ("own-doctor-combination", "fd-role", "cardio", True, True),
    ("own-doctor-practitioner-ref", "fd", "hosp", True, True),
    ("own-doctor-partner", "fd-role", "partner", True, True),
    ("own-doctor-elsewhere", "fd-role", "other", True, False),
    ("not-family-doctor", "nurse", "cardio", True, False),
    ("hospital-doctor", "spec-role", "cardio", True, False),
])
def test_priority_and_green_channel(client, world, case, requester, performer, contract, green):
    kind = "PractitionerRole" if requester.endswith("role") else "Practitioner"
    sr = world.referral(f"prio-{case}", requester=ref(kind, world.id(requester)), performer=performer,
                        priority="routine")
    stored = put(client, sr).get_json()
    assert (stored["priority"] == "urgent") is green, case
    assert bool(_green(stored)) is green, case


def test_priority_needs_a_contract_in_force_and_is_never_lowered(client, world):
    old = world.referral("prio-old", authoredOn="2001-05-01", priority="routine")
    assert put(client, old).get_json()["priority"] == "routine"
    stat = world.referral("prio-stat", priority="stat")
    stored = put(client, stat).get_json()
    assert stored["priority"] == "stat" and _green(stored) is True


def test_downward_referral_closes_the_loop(client, world):
    put(client, world.referral("up-loop"))
    assert put(client, world.task("task-up-loop", "up-loop", "in-progress")).status_code == 201
    down = world.referral("down-loop", "downward", requester=ref("PractitionerRole", world.id("spec-role")),
                          performer="chc", basedOn=[ref("ServiceRequest", world.id("up-loop"))])
    assert put(client, down).status_code == 201
    task = client.get(f"/fhir/Task/{world.id('task-up-loop')}").get_json()
    outputs = [o["valueReference"]["reference"] for o in task["output"]]
    assert outputs == [f"ServiceRequest/{world.id('down-loop')}"]
    assert task["output"][0]["type"]["coding"][0]["code"] == "return-referral"
    # written again: no second output
    task["status"] = "completed"
    assert [o["valueReference"] for o in put(client, task).get_json()["output"]] == [{"reference": outputs[0]}]


def test_task_written_after_the_return_referral_lists_it(client, world):
    put(client, world.referral("up-late"))
    put(client, world.referral("down-late", "downward", performer="chc",
                               basedOn=[ref("ServiceRequest", world.id("up-late"))]))
    task = put(client, world.task("task-up-late", "up-late", "completed")).get_json()
    assert task["output"][0]["valueReference"]["reference"] == f"ServiceRequest/{world.id('down-late')}"


def test_downward_referral_must_answer_an_upward_one_for_the_same_resident(client, world):
    put(client, world.referral("down-a", "downward", performer="chc"))
    bad = world.referral("down-b", "downward", performer="chc", basedOn=[ref("ServiceRequest", world.id("down-a"))])
    response = put(client, bad)
    assert response.status_code == 422 and response.get_json()["issue"][0]["code"] == "business-rule"
    other = world.referral("up-other", subject=ref("Patient", "someone-else"))
    put(client, other)
    bad = world.referral("down-c", "downward", performer="chc", basedOn=[ref("ServiceRequest", world.id("up-other"))])
    assert put(client, bad).status_code == 422
    unknown = world.referral("down-d", "downward", performer="chc", basedOn=[ref("ServiceRequest", "elsewhere")])
    assert put(client, unknown).status_code == 201
