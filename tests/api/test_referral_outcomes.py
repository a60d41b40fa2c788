"""Referral rules at their edges (SPEC §4 双向转诊), written from the survivors of a mutation
run (docs/testing.md, fifth pass): which contract a referral is under, the green channel a
client sent as false, requesters and subjects that are not what the rule looks for, the
follow-up a referral schedules (when it is sent, on which day, in which plan), a downward
referral's ``basedOn`` with more than the upward referral in it, and what the refusals say —
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from referral_world import CS, SD, applied_plan, hypertension_package, load, new_world, put, ref

DERIVED_BY = CS + "derived-by"
PROPOSAL = "https://jiayi.dev/fhir/sid/referral-proposal"
GREEN = SD + "jiayi-green-channel"
AFTER = SD + "jiayi-follow-up-after"


@pytest.fixture(scope="module")
def world(app):
    w = new_world()
    load(app.test_client(), [*w.resources(), hypertension_package(w)])
    return w


def _contract(world, cid: str, pid: str, hospital: str | None = "hosp", team: str = "team") -> dict:
    contract = next(r for r in world.resources() if r["resourceType"] == "Contract")
    extension = [{"url": SD + "jiayi-contract-care-team", "valueReference": ref("CareTeam", world.id(team))}]
    if hospital:
        organisation = ref("Organization", world.id(hospital))
        extension.append({"url": SD + "jiayi-combination-hospital",
                          "extension": [{"url": "level", "valueCode": "city"},
                                        {"url": "organization", "valueReference": organisation}]})
    return {**contract, "id": cid, "subject": [ref("Patient", pid)], "extension": extension}


def _resident(client, world, plan: bool = True, **contract) -> tuple[str, str | None]:
    """A new resident with a contract in force (and, with ``plan``, a stored plan)."""
    pid = world.id("r" + uuid.uuid4().hex[:8])
    load(client, [{"resourceType": "Patient", "id": pid, "gender": "female"},
                  _contract(world, pid + "-ctr", pid, **contract)])
    return pid, (_plan(client, world, pid) if plan else None)


def _plan(client, world, pid: str) -> str:
    """The resident's plan ($apply answers the one in force once there is one)."""
    return applied_plan(client, world, pid, statuses=(200, 201))


def _another_plan(client, plan_id: str, contract: str | None = None) -> str:
    """A second active plan for the resident: a copy of ``plan_id`` (serving ``contract``)."""
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    plan = {k: v for k, v in plan.items() if k not in ("meta", "text")}
    plan["id"] = plan_id[:40] + "-b"
    plan["activity"] = [a for a in plan.get("activity", [])
                        if not any(e["url"] == AFTER for e in a.get("extension", []))]
    if contract:
        plan["extension"] = [*(e for e in plan.get("extension", []) if e["url"] != SD + "jiayi-contract"),
                             {"url": SD + "jiayi-contract", "valueReference": ref("Contract", contract)}]
    response = put(client, plan)
    assert response.status_code == 201, response.get_json()
    return plan["id"]


def _referral(world, pid: str, name: str, **extra) -> dict:
    return {**world.referral(name), "id": f"{pid}-{name}", "subject": ref("Patient", pid), **extra}


def _green(sr: dict) -> list:
    return [e.get("valueBoolean") for e in sr.get("extension", []) if e["url"] == GREEN]


def _after(client, plan_id: str, sr_id: str) -> list[dict]:
    """The plan's activities that follow up ServiceRequest/sr_id."""
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    return [a for a in plan.get("activity", []) if any(
        e["url"] == AFTER and e["valueReference"] == ref("ServiceRequest", sr_id) for e in a.get("extension", []))]


# --- green channel ---------------------------------------------------------------------------

def test_a_green_channel_sent_as_false_is_granted_once(client, world):
    sr = world.referral("green-false", priority="routine")
    sr["extension"] = [*sr["extension"], {"url": GREEN, "valueBoolean": False}]
    stored = put(client, sr).get_json()
    assert stored["priority"] == "urgent" and _green(stored) == [True]


def test_a_referral_without_authored_on_is_judged_on_today(client, world):
    sr = world.referral("no-authored", priority="routine")
    del sr["authoredOn"]
    response = put(client, sr)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["priority"] == "urgent" and _green(response.get_json()) == [True]


@pytest.mark.parametrize(("case", "change"), [
    ("requester an Organization", {"requester": None}),
    ("subject by identifier only", {"subject": {"identifier": {"system": "urn:oid:2.16.156.10011.1.2",
                                                               "value": "110101195003040011"}}}),
    ("subject a Group", {"subject": None}),
])
def test_no_green_channel_without_a_doctor_or_a_resident(client, world, case, change):
    sr = world.referral("edge-" + uuid.uuid4().hex[:6], priority="routine")
    sr.update(change)
    if "requester" in change:
        sr["requester"] = ref("Organization", world.id("chc"))
    if case == "subject a Group":
        group = {"resourceType": "Group", "id": sr["id"] + "-g", "type": "person", "actual": True,
                 "member": [{"entity": ref("Patient", world.id("pat"))}]}
        assert put(client, group).status_code == 201
        sr["subject"] = ref("Group", group["id"])
    response = put(client, sr)
    assert response.status_code == 201, (case, response.get_json())
    assert response.get_json()["priority"] == "routine" and _green(response.get_json()) == [], case


def test_a_family_doctor_listed_on_the_team_by_role(client, world):
    """The team names its family doctor by PractitionerRole: the doctor is found through it."""
    team = {"resourceType": "CareTeam", "id": world.id("team-by-role"), "status": "active",
            "participant": [{"extension": [{"url": SD + "jiayi-team-lead", "valueBoolean": True}],
                             "role": [{"coding": [{"system": CS + "team-role", "code": "family-doctor"}]}],
                             "member": ref("PractitionerRole", world.id("fd-role"))}]}
    assert put(client, team).status_code == 201
    pid, _ = _resident(client, world, plan=False, team="team-by-role")
    stored = put(client, _referral(world, pid, "by-role", priority="routine")).get_json()
    assert stored["priority"] == "urgent" and _green(stored) == [True]


@pytest.mark.parametrize("element", ["supportingInfo", "basedOn"])
def test_the_contract_the_referral_names_decides(client, world, element):
    """A resident under two contracts (one names the hospital in its 1+1+1 combination, the
    other does not): the one the referral names is the one that counts."""
    pid, _ = _resident(client, world, plan=False)  # contract pid-ctr: combination hospital "hosp"
    other = _contract(world, pid + "-ctr2", pid, hospital=None)
    assert put(client, other).status_code == 201
    for contract, green in ((pid + "-ctr", True), (pid + "-ctr2", False)):
        sr = _referral(world, pid, f"{element[:2]}-{contract[-1]}", priority="routine",
                       **{element: [ref("Contract", contract)]})
        response = put(client, sr)
        assert response.status_code == 201, response.get_json()
        assert (response.get_json()["priority"] == "urgent") is green, contract
        assert _green(response.get_json()) == ([True] if green else []), contract


# --- the follow-up of a referral sent -----------------------------------------------------------

def test_a_referral_sent_is_followed_up_at_once(client, world):
    pid, plan_id = _resident(client, world)
    created = _referral(world, pid, "sent-at-once")
    assert put(client, created).status_code == 201
    assert len(_after(client, plan_id, created["id"])) == 1
    drafted = _referral(world, pid, "drafted", status="draft")
    assert put(client, drafted).status_code == 201
    drafted["status"] = "active"
    assert put(client, drafted).status_code == 200
    [activity] = _after(client, plan_id, drafted["id"])
    assert activity["detail"]["code"]["text"] == "转诊后2周内主动随访"
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    assert {"system": DERIVED_BY, "code": "referral-follow-up"} in plan["meta"]["tag"]


def test_a_referral_already_sent_schedules_nothing_more(client, world):
    """Changed after it was sent: no follow-up, not even in a plan made since."""
    pid, first_plan = _resident(client, world)
    sr = _referral(world, pid, "sent-before")
    assert put(client, sr).status_code == 201
    second_plan = _another_plan(client, first_plan)
    sr["note"] = [{"text": "已电话联系患者"}]
    assert put(client, sr).status_code == 200
    assert len(_after(client, first_plan, sr["id"])) == 1
    assert _after(client, second_plan, sr["id"]) == []


def test_the_follow_up_runs_two_weeks_from_the_day_authored(client, world):
    pid, plan_id = _resident(client, world)
    day = datetime.now(UTC).date() - timedelta(days=10)
    sr = _referral(world, pid, "authored-earlier", authoredOn=day.isoformat())
    assert put(client, sr).status_code == 201
    [activity] = _after(client, plan_id, sr["id"])
    assert activity["detail"]["scheduledPeriod"] == {"start": day.isoformat(),
                                                     "end": (day + timedelta(days=14)).isoformat()}
    undated = _referral(world, pid, "undated")
    del undated["authoredOn"]
    assert put(client, undated).status_code == 201
    [activity] = _after(client, plan_id, undated["id"])
    assert activity["detail"]["scheduledPeriod"]["start"] == datetime.now(UTC).date().isoformat()


def test_proposals_are_not_followed_up_twice_but_other_identifiers_are(client, world):
    pid, plan_id = _resident(client, world)
    proposal = _referral(world, pid, "proposal", status="draft", intent="proposal",
                         identifier=[{"system": PROPOSAL, "value": "Encounter/elsewhere"}])
    assert put(client, proposal).status_code == 201
    proposal["status"] = "active"
    assert put(client, proposal).status_code == 200
    assert _after(client, plan_id, proposal["id"]) == []
    numbered = _referral(world, pid, "numbered", identifier=[{"system": "urn:oid:1.2.156.112604.1", "value": "ZZ-1"}])
    assert put(client, numbered).status_code == 201
    assert len(_after(client, plan_id, numbered["id"])) == 1


@pytest.mark.parametrize("named", ["ctr", "ctr2"])
def test_the_follow_up_goes_to_the_plan_of_the_contract_named(client, world, named):
    """Two contracts in force, a plan for each: the referral's contract's plan only."""
    pid, first = _resident(client, world)  # its plan serves pid-ctr
    assert put(client, _contract(world, pid + "-ctr2", pid)).status_code == 201
    plans = {"ctr": first, "ctr2": _another_plan(client, first, pid + "-ctr2")}
    sr = _referral(world, pid, "to-" + named, supportingInfo=[ref("Contract", f"{pid}-{named}")])
    assert put(client, sr).status_code == 201
    assert {c: len(_after(client, p, sr["id"])) for c, p in plans.items()} == {
        c: int(c == named) for c in plans}


# --- downward referrals -----------------------------------------------------------------------

def _loop(client, world, name: str, **task) -> tuple[dict, dict]:
    up = world.referral(f"up-{name}")
    assert put(client, up).status_code == 201
    stored = put(client, world.task(f"task-{name}", f"up-{name}", "in-progress", **task))
    assert stored.status_code == 201, stored.get_json()
    return up, stored.get_json()


def _down(world, name: str, based_on: list[dict], **extra) -> dict:
    return world.referral(f"down-{name}", "downward", requester=ref("PractitionerRole", world.id("spec-role")),
                          performer="chc", basedOn=based_on, **extra)


def test_a_downward_referral_based_on_more_than_the_upward_one(client, world):
    """basedOn also names a plan, a referral not on this server and one by identifier only:
    only the upward referral is answered."""
    pid, plan_id = _resident(client, world)
    up, task = _loop(client, world, "mixed")
    down = _down(world, "mixed", [{"identifier": {"system": "urn:oid:1.2.156.112604.1", "value": "ZZ-2"}},
                                  ref("CarePlan", plan_id), ref("ServiceRequest", "not-here"),
                                  ref("ServiceRequest", up["id"])])
    response = put(client, down)
    assert response.status_code == 201, response.get_json()
    stored = client.get(f"/fhir/Task/{task['id']}").get_json()
    assert [o["valueReference"] for o in stored["output"]] == [ref("ServiceRequest", down["id"])]
    assert {"system": DERIVED_BY, "code": "return-referral-output"} in stored["meta"]["tag"]


def test_an_upward_referral_based_on_another_request_is_not_checked_as_a_return(client, world):
    order = {"resourceType": "ServiceRequest", "id": world.id("lab-order"), "status": "active", "intent": "order",
             "code": {"text": "血常规"}, "subject": ref("Patient", world.id("pat"))}
    assert put(client, order).status_code == 201
    up = world.referral("up-based", basedOn=[ref("ServiceRequest", order["id"])])
    response = put(client, up)
    assert response.status_code == 201, response.get_json()


def test_a_task_written_after_the_return_referral_types_its_output(client, world):
    assert put(client, world.referral("up-typed")).status_code == 201
    down = _down(world, "typed", [ref("ServiceRequest", world.id("up-typed"))])
    assert put(client, down).status_code == 201
    task = put(client, world.task("task-typed", "up-typed", "completed")).get_json()
    assert task["output"] == [{"type": {"coding": [{"system": CS + "referral-task-output", "code": "return-referral",
                                                    "display": "回转单"}], "text": "回转单"},
                               "valueReference": ref("ServiceRequest", down["id"])}]


def test_the_return_referral_is_added_to_the_outputs_already_there(client, world):
    report = {"type": {"text": "检查报告"}, "valueReference": ref("DiagnosticReport", "dr-1")}
    up, task = _loop(client, world, "kept", output=[report])
    down = _down(world, "kept", [ref("ServiceRequest", up["id"])])
    assert put(client, down).status_code == 201
    stored = client.get(f"/fhir/Task/{task['id']}").get_json()
    assert [o["valueReference"] for o in stored["output"]] == [ref("DiagnosticReport", "dr-1"),
                                                               ref("ServiceRequest", down["id"])]
    version = stored["meta"]["versionId"]
    down["note"] = [{"text": "患者已回社区"}]
    assert put(client, down).status_code == 200
    assert client.get(f"/fhir/Task/{task['id']}").get_json()["meta"]["versionId"] == version


def test_what_a_refused_downward_referral_says(client, world):
    up = world.referral("up-said")
    assert put(client, up).status_code == 201
    other = world.referral("down-said-first", "downward", performer="chc")
    assert put(client, other).status_code == 201
    not_upward = _down(world, "said-1", [ref("ServiceRequest", up["id"]), ref("ServiceRequest", other["id"])])
    issue = put(client, not_upward).get_json()["issue"][0]
    assert issue["code"] == "business-rule" and issue["expression"] == ["ServiceRequest.basedOn[1]"]
    assert f"ServiceRequest/{other['id']} is not one" in issue["diagnostics"]
    elsewhere = world.referral("up-said-other", subject=ref("Patient", world.id("someone-else")))
    assert put(client, elsewhere).status_code == 201
    other_resident = _down(world, "said-2", [ref("ServiceRequest", up["id"]), ref("ServiceRequest", elsewhere["id"])])
    response = put(client, other_resident)
    assert response.status_code == 422
    issue = response.get_json()["issue"][0]
    assert issue["code"] == "business-rule" and issue["expression"] == ["ServiceRequest.basedOn[1]"]
    assert f"the upward referral ServiceRequest/{elsewhere['id']} it answers" in issue["diagnostics"]


# --- the referral Task ----------------------------------------------------------------------------

def test_what_a_refused_transition_says(client, world):
    assert put(client, world.referral("sr-said")).status_code == 201
    task = world.task("task-said", "sr-said", "requested")
    assert put(client, task).status_code == 201
    task["status"] = "completed"
    issue = put(client, task).get_json()["issue"][0]
    assert issue["expression"] == ["Task.status"]
    assert issue["diagnostics"] == (
        f"Referral Task Task/{task['id']} cannot go from 'requested' to 'completed'; "
        "allowed from 'requested': accepted, cancelled, entered-in-error, received, rejected")


def test_a_task_in_a_state_outside_the_machine_can_only_be_entered_in_error(client, world):
    """Written while its referral was not on the server yet (no rule then), the Task is checked
    once the referral is: from 'ready' nothing but entered-in-error."""
    task = world.task("task-early", "sr-early", "ready")
    assert put(client, task).status_code == 201
    assert put(client, world.referral("sr-early")).status_code == 201
    task["status"] = "accepted"
    response = put(client, task)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["issue"][0]["diagnostics"].endswith(
        "cannot go from 'ready' to 'accepted'; allowed from 'ready': entered-in-error")
    task["status"] = "entered-in-error"
    assert put(client, task).status_code == 200


def test_a_task_claiming_the_profile_is_checked_without_its_referral(client, world):
    task = world.task("task-claims", "sr-not-here", "in-progress", meta={"profile": [SD + "jiayi-referral-task"]},
                      authoredOn=datetime.now(UTC).date().isoformat())
    del task["id"]
    response = client.post("/fhir/Task", json=task)
    assert response.status_code == 422, response.get_json()
    issue = response.get_json()["issue"][0]
    assert issue["expression"] == ["Task.status"]
    assert issue["diagnostics"] == ("A new referral Task starts as 'requested' (or 'draft'), not 'in-progress'; "
                                   "a record mirrored from another system is written with PUT and its own id")
    assert put(client, world.referral("sr-ready")).status_code == 201
    unclaimed = world.task("task-ready", "sr-ready", "ready")  # its focus makes it a referral Task
    issue = put(client, unclaimed).get_json()["issue"][0]
    assert issue["diagnostics"].endswith("(draft, requested, received, accepted, in-progress, on-hold, rejected, "
                                         "cancelled, failed, completed, entered-in-error)")


def test_what_a_rejection_without_a_reason_says_and_a_referral_task_deleted(client, world):
    assert put(client, world.referral("sr-why")).status_code == 201
    task = world.task("task-why", "sr-why", "received")
    assert put(client, task).status_code == 201
    task["status"] = "rejected"
    issue = put(client, task).get_json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["diagnostics"] == "A rejected referral Task must say why (Task.statusReason; 拒绝理由)"
    assert client.delete(f"/fhir/Task/{task['id']}").status_code in (200, 204)
    assert client.get(f"/fhir/Task/{task['id']}").status_code == 410
