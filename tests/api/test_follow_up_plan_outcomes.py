"""Follow-up visits filling the resident's plan, and follow-ups scheduled in it (SPEC §4 Care
plans), at their edges, written from the survivors of a mutation run (docs/testing.md, fifth
pass): a visit written again, visits recording several items or none, visits that are not
follow-ups or serve another contract, the follow-up a referral schedules in a plan without
follow-up items — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from referral_world import CS, SD, load, new_world, put, ref, resident_with_plan, service_package

ITEM = CS + "service-item"


@pytest.fixture(scope="module")
def world(app):
    w = new_world()
    hypertension = service_package(w.id("htn"), {"hypertension-follow-up": 4, "blood-pressure-measurement": 12})
    load(app.test_client(), [*w.resources(), hypertension, service_package(w.id("edu"), {"health-education": 2})])
    return w


def _resident(client, world, package: str = "htn") -> tuple[str, str]:
    """A resident under a contract that began 200 days ago (three quarterly windows begun)."""
    return resident_with_plan(client, world, package)


def _visit(pid: str, name: str, items: tuple[str, ...] = ("hypertension-follow-up",), **extra) -> dict:
    encounter = {"resourceType": "Encounter", "id": f"{pid}-{name}", "status": "finished",
                 "extension": [{"url": SD + "jiayi-contract", "valueReference": ref("Contract", pid + "-ctr")},
                               *({"url": SD + "jiayi-service-item",
                                  "valueCodeableConcept": {"coding": [{"system": ITEM, "code": item}]}}
                                 for item in items)],
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "type": [{"coding": [{"system": CS + "follow-up-method", "code": "clinic"}]}],
                 "subject": ref("Patient", pid),
                 "period": {"start": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")}}
    encounter.update(extra)
    return encounter


def _statuses(client, plan_id: str, code: str = "hypertension-follow-up") -> list[str]:
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    return [a["detail"]["status"] for a in plan["activity"] if a["detail"]["code"]["coding"][0]["code"] == code]


def test_a_visit_written_again_fills_nothing_more(client, world):
    pid, plan_id = _resident(client, world)
    visit = _visit(pid, "again")
    assert put(client, visit).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "scheduled", "scheduled", "scheduled"]
    version = client.get(f"/fhir/CarePlan/{plan_id}").get_json()["meta"]["versionId"]
    visit["reasonCode"] = [{"text": "血压复查"}]
    assert put(client, visit).status_code == 200
    assert _statuses(client, plan_id) == ["completed", "scheduled", "scheduled", "scheduled"]
    assert client.get(f"/fhir/CarePlan/{plan_id}").get_json()["meta"]["versionId"] == version


def test_a_visit_recording_several_items_fills_each_the_plan_has(client, world):
    pid, plan_id = _resident(client, world)
    visit = _visit(pid, "several", ("diabetes-follow-up", "hypertension-follow-up"))
    assert put(client, visit).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "scheduled", "scheduled", "scheduled"]


def test_a_visit_recording_no_item_fills_a_follow_up_item_only(client, world):
    pid, plan_id = _resident(client, world)
    assert put(client, _visit(pid, "no-item", ())).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "scheduled", "scheduled", "scheduled"]
    assert "completed" not in _statuses(client, plan_id, "blood-pressure-measurement")


@pytest.mark.parametrize(("case", "change"), [
    ("not finished", {"status": "in-progress"}),
    ("not a follow-up", {"type": [{"text": "门诊"}]}),
    ("for another contract", {"extension": [{"url": SD + "jiayi-contract",
                                             "valueReference": ref("Contract", "another-contract")}]}),
    ("not about a Patient", {"subject": ref("Group", "household")}),
    ("without a start", {"period": {"end": "2026-12-01T10:00:00+08:00"}}),
    ("about a resident by identifier only", {"subject": {"identifier": {"system": "urn:oid:2.16.156.10011.1.2",
                                                                        "value": "110101195003040011"}}}),
])
def test_visits_that_fill_nothing(client, world, case, change):
    pid, plan_id = _resident(client, world)
    visit = {**_visit(pid, "none"), **change}
    if case == "not about a Patient":
        group = {"resourceType": "Group", "id": pid + "-g", "type": "person", "actual": True,
                 "member": [{"entity": ref("Patient", pid)}]}
        assert put(client, group).status_code == 201
        visit["subject"] = ref("Group", group["id"])
    response = put(client, visit)
    assert response.status_code == 201, (case, response.get_json())
    assert "completed" not in _statuses(client, plan_id), case


def test_a_visit_fills_the_window_due_first_among_those_begun(client, world):
    """A late visit fills the overdue window, not one that has not begun."""
    pid, plan_id = _resident(client, world)
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    start = datetime.fromisoformat(plan["period"]["start"]).replace(tzinfo=UTC)
    early = _visit(pid, "early", period={"start": (start + timedelta(days=100)).strftime("%Y-%m-%dT09:00:00+08:00")})
    assert put(client, early).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "scheduled", "scheduled", "scheduled"]
    assert put(client, _visit(pid, "late")).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "completed", "scheduled", "scheduled"]


def test_a_plan_without_follow_up_items_gets_the_annual_follow_up(client, world):
    """$apply adds 年度随访 for a resident with no key population whose package has no follow-up;
    the code is in the IG's service-item CodeSystem (it was not: the plan was refused, 422)."""
    pid, plan_id = _resident(client, world, "edu")
    assert _statuses(client, plan_id, "annual-follow-up") == ["scheduled"]


def test_a_referral_follow_up_in_a_plan_without_follow_up_items_is_the_annual_one(client, world):
    pid, plan_id = _resident(client, world, "edu")
    sr = {**world.referral("x"), "id": f"{pid}-sr", "subject": ref("Patient", pid)}
    assert put(client, sr).status_code == 201
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    [activity] = [a for a in plan["activity"] if a.get("extension")]
    day = datetime.now(UTC).date()
    end = (day + timedelta(days=14)).isoformat()
    assert activity["detail"]["code"] == {"coding": [{"system": ITEM, "code": "annual-follow-up"}],
                                          "text": "转诊后2周内主动随访"}
    assert activity["detail"]["description"] == f"转诊后2周内主动随访（ServiceRequest/{sr['id']}，{end}前）"
    assert activity["detail"]["status"] == "scheduled"


def _windows(client, plan_id: str, code: str = "hypertension-follow-up") -> list[dict]:
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    return [a["detail"].get("scheduledPeriod") for a in plan["activity"]
            if a["detail"]["code"]["coding"][0]["code"] == code]


def _on(day: str) -> dict:
    return {"start": f"{day}T10:00:00+08:00"}


def test_a_visit_on_the_first_day_of_a_window_fills_it_one_before_fills_nothing(client, world):
    pid, plan_id = _resident(client, world)
    first, second = _windows(client, plan_id)[:2]
    assert put(client, _visit(pid, "w1", period=_on(first["start"]))).status_code == 201
    day_before = (datetime.fromisoformat(second["start"]) - timedelta(days=1)).date().isoformat()
    assert put(client, _visit(pid, "w1b", period=_on(day_before))).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "scheduled", "scheduled", "scheduled"]
    assert put(client, _visit(pid, "w2", period=_on(second["start"]))).status_code == 201
    assert _statuses(client, plan_id) == ["completed", "completed", "scheduled", "scheduled"]


def test_filling_keeps_the_outcomes_an_activity_had(client, world):
    pid, plan_id = _resident(client, world)
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    plan["activity"][0]["outcomeReference"] = [ref("Encounter", pid + "-phone")]
    assert put(client, {k: v for k, v in plan.items() if k != "meta"}).status_code == 200
    assert put(client, _visit(pid, "kept")).status_code == 201
    activity = client.get(f"/fhir/CarePlan/{plan_id}").get_json()["activity"][0]
    assert activity["detail"]["status"] == "completed"
    assert activity["outcomeReference"] == [ref("Encounter", pid + "-phone"), ref("Encounter", pid + "-kept")]


def test_items_that_are_not_follow_ups(client, world):
    """An activity with no window ($apply's ongoing items) is not filled; one a doctor gave a
    window is filled by a visit recording its item, never by a visit recording none (that fills
    a follow-up item only)."""
    pid, plan_id = _resident(client, world)
    assert put(client, _visit(pid, "bp", ("blood-pressure-measurement",))).status_code == 201
    assert _statuses(client, plan_id, "blood-pressure-measurement") == ["not-started"]
    pid, plan_id = _resident(client, world, "edu")
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    education = next(a for a in plan["activity"] if a["detail"]["code"]["coding"][0]["code"] == "health-education")
    window = {"start": plan["period"]["start"], "end": (datetime.now(UTC).date() + timedelta(days=5)).isoformat()}
    education["detail"] = {**{k: v for k, v in education["detail"].items() if k != "scheduledTiming"},
                           "status": "scheduled", "scheduledPeriod": window}
    assert put(client, {k: v for k, v in plan.items() if k != "meta"}).status_code == 200
    assert put(client, _visit(pid, "none", ())).status_code == 201
    assert _statuses(client, plan_id, "annual-follow-up") == ["completed"]
    assert _statuses(client, plan_id, "health-education") == ["scheduled"]
    assert put(client, _visit(pid, "edu", ("health-education",))).status_code == 201
    assert _statuses(client, plan_id, "health-education") == ["completed"]


def test_a_new_plan_counts_past_follow_ups_of_its_own_contract_only(client, world):
    """Earlier in the term: a follow-up for another contract, a visit that is not a follow-up, a
    follow-up of an item the plan does not have; then one of its own (late: the first window)."""
    pid = world.id("r" + uuid.uuid4().hex[:8])
    contract = next(r for r in world.resources() if r["resourceType"] == "Contract")
    load(client, [{"resourceType": "Patient", "id": pid, "gender": "male"},
                  {**contract, "id": pid + "-ctr", "subject": [ref("Patient", pid)]}])
    start = datetime.fromisoformat(contract["applies"]["start"])
    other = _visit(pid, "other", period=_on((start + timedelta(days=10)).date().isoformat()))
    other["extension"][0] = {"url": SD + "jiayi-contract", "valueReference": ref("Contract", "another-contract")}
    clinic = {**_visit(pid, "clinic", period=_on((start + timedelta(days=20)).date().isoformat())),
              "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003"}]}]}
    diabetes = _visit(pid, "dm", ("diabetes-follow-up",), period=_on((start + timedelta(days=30)).date().isoformat()))
    own = _visit(pid, "own", period=_on((start + timedelta(days=100)).date().isoformat()))
    load(client, [other, clinic, diabetes, own])
    plan = client.post(f"/fhir/PlanDefinition/{world.id('htn')}/$apply",
                       json={"resourceType": "Parameters", "parameter": [
                           {"name": "subject", "valueString": f"Patient/{pid}"},
                           {"name": "persist", "valueBoolean": True}]})
    assert plan.status_code == 201, plan.get_json()
    assert _statuses(client, plan.get_json()["id"]) == ["completed", "scheduled", "scheduled", "scheduled"]


def test_only_health_management_plans_are_filled(client, world):
    """A resident's other care plans (no jiayi-health-management-plan profile, no contract) are
    not the family doctor's plan: a follow-up visit does not fill them."""
    pid, plan_id = _resident(client, world)
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    other = {k: v for k, v in plan.items() if k not in ("meta", "extension", "text")}
    other["id"] = pid + "-rehab"
    response = put(client, other)
    assert response.status_code == 201, response.get_json()
    assert put(client, _visit(pid, "only")).status_code == 201
    assert _statuses(client, plan_id)[0] == "completed"
    assert "completed" not in _statuses(client, other["id"])


def test_a_health_management_plan_without_a_contract_is_filled(client, world):
    pid, plan_id = _resident(client, world)
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    unsigned = {k: v for k, v in plan.items() if k not in ("extension", "text")}
    unsigned.update(id=pid + "-unsigned", meta={"profile": plan["meta"]["profile"]})
    response = put(client, unsigned)
    assert response.status_code == 201, response.get_json()
    visit = _visit(pid, "unsigned")
    visit["extension"] = visit["extension"][1:]  # no contract named: every active plan of the resident
    assert put(client, visit).status_code == 201
    assert _statuses(client, unsigned["id"])[0] == "completed"
