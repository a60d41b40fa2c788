"""Care plans (SPEC §4): ``PlanDefinition/[id]/$apply``, follow-up Encounters filling the plan,
and the overdue search ``CarePlan?activity-due=lt...`` — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from referral_world import CS, SD, load, new_world, put, ref, valid_r4

ITEM = CS + "service-item"


def _action(code: str, per_year: int) -> dict:
    return {"title": code, "code": [{"coding": [{"system": ITEM, "code": code}]}],
            "timingTiming": {"repeat": {"frequency": per_year, "period": 1, "periodUnit": "a"}}}


def _package(pid: str, title: str, items: dict) -> dict:
    return {"resourceType": "PlanDefinition", "id": pid, "status": "active", "title": title,
            "meta": {"profile": [SD + "jiayi-service-package"]},
            "extension": [{"url": SD + "jiayi-package-tier", "valueCoding": {
                "system": "https://jiayi.dev/fhir/CodeSystem/package-tier",
                "code": "disease-specific" if "htn" in pid else "basic"}}],
            "action": [_action(code, n) for code, n in items.items()]}


@pytest.fixture(scope="module")
def world(app):
    w = new_world()
    extra = [_package(w.id("pkg-htn"), "高血压个性化服务包",
                      {"hypertension-follow-up": 4, "blood-pressure-measurement": 12}),
             _package(w.id("pkg-basic"), "基础签约服务包", {"health-education": 2, "health-consultation": 4}),
             {"resourceType": "Patient", "id": w.id("plain"), "name": [{"text": "钱七"}], "gender": "female"}]
    load(app.test_client(), w.resources() + extra)
    return w


def _apply(client, world, package: str, subject: str = "pat", method: str = "GET", **params):
    url = f"/fhir/PlanDefinition/{world.id(package)}/$apply"
    if method == "GET":
        return client.get(url, query_string={"subject": f"Patient/{world.id(subject)}", **params})
    parameters = [{"name": "subject", "valueString": f"Patient/{world.id(subject)}"}]
    parameters += [{"name": k, ("valueBoolean" if isinstance(v, bool) else "valueString"): v}
                   for k, v in params.items()]
    return client.post(url, json={"resourceType": "Parameters", "parameter": parameters})


def _follow_ups(plan: dict, code: str) -> list[dict]:
    return [a["detail"] for a in plan["activity"] if a["detail"]["code"]["coding"][0]["code"] == code]


def test_apply_returns_an_unsaved_plan_for_the_contract_term(client, world):
    response = _apply(client, world, "pkg-htn")
    assert response.status_code == 200, response.get_json()
    plan = response.get_json()
    assert plan["resourceType"] == "CarePlan" and "id" not in plan and plan["status"] == "draft"
    assert valid_r4(plan)
    assert plan["meta"]["profile"] == [SD + "jiayi-health-management-plan"]
    assert plan["extension"] == [{"url": SD + "jiayi-contract", "valueReference": ref("Contract", world.id("ctr"))}]
    assert plan["careTeam"] == [ref("CareTeam", world.id("team"))]
    assert [c["coding"][0]["code"] for c in plan["category"]] == ["hypertension"]
    visits = _follow_ups(plan, "hypertension-follow-up")
    assert len(visits) == 4 and all(v["status"] == "scheduled" for v in visits)
    assert visits[0]["scheduledPeriod"]["start"] == plan["period"]["start"]
    assert visits[-1]["scheduledPeriod"]["end"] == plan["period"]["end"]
    measure = _follow_ups(plan, "blood-pressure-measurement")
    assert measure[0]["scheduledTiming"]["repeat"]["frequency"] == 12 and measure[0]["status"] == "not-started"
    listed = client.get(f"/fhir/CarePlan?subject=Patient/{world.id('pat')}").get_json()
    assert listed["total"] == 0


def test_minimum_follow_ups_by_key_population_and_one_a_year_for_everyone(client, world):
    plan = _apply(client, world, "pkg-basic").get_json()
    assert len(_follow_ups(plan, "hypertension-follow-up")) == 4  # the resident has hypertension
    plain = _apply(client, world, "pkg-basic", subject="plain").get_json()
    annual = _follow_ups(plain, "annual-follow-up")
    assert len(annual) == 1 and [c["coding"][0]["code"] for c in plain["category"]] == ["general"]
    assert "extension" not in plain  # no contract in force: a one-year plan from today


def test_apply_persists_once_with_post(client, world):
    first = _apply(client, world, "pkg-htn", method="POST", persist=True)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "active" and first.headers["Location"]
    again = _apply(client, world, "pkg-htn", method="POST", persist=True)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    # clean up for the other tests of this module
    assert client.delete(f"/fhir/CarePlan/{first.get_json()['id']}").status_code in (200, 204)


@pytest.mark.parametrize(("params", "status"), [
    ({"subject": None}, 400), ({"subject": "Practitioner/x"}, 400), ({"subject": "Patient/nobody"}, 422),
    ({"contract": "Contract/nobody"}, 422), ({"persist": "true"}, 400), ({"persist": "maybe"}, 400),
])
def test_apply_refusals(client, world, params, status):
    query = {"subject": f"Patient/{world.id('plain')}", **params}
    query = {k: v for k, v in query.items() if v is not None}
    response = client.get(f"/fhir/PlanDefinition/{world.id('pkg-htn')}/$apply", query_string=query)
    assert response.status_code == status, response.get_json()


def test_contract_must_cover_the_subject(client, world):
    response = client.get(f"/fhir/PlanDefinition/{world.id('pkg-htn')}/$apply",
                          query_string={"subject": f"Patient/{world.id('plain')}",
                                        "contract": f"Contract/{world.id('ctr')}"})
    assert response.status_code == 422 and response.get_json()["issue"][0]["code"] == "business-rule"


def _visit(world, name: str, day: datetime, item: str = "hypertension-follow-up") -> dict:
    return {"resourceType": "Encounter", "id": world.id(name), "status": "finished",
            "extension": [{"url": SD + "jiayi-contract", "valueReference": ref("Contract", world.id("ctr"))},
                          {"url": SD + "jiayi-service-item",
                           "valueCodeableConcept": {"coding": [{"system": ITEM, "code": item}]}}],
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": CS + "follow-up-method", "code": "clinic"}]}],
            "subject": ref("Patient", world.id("pat")),
            "period": {"start": day.strftime("%Y-%m-%dT09:00:00+08:00")}}


def test_follow_ups_fill_the_plan_and_overdue_search(client, world):
    plan = _apply(client, world, "pkg-htn", method="POST", persist=True).get_json()
    today = datetime.now(UTC)
    due = f"/fhir/CarePlan?subject=Patient/{world.id('pat')}&activity-due=lt{today.date().isoformat()}"
    assert client.get(due).get_json()["total"] == 1  # the first two windows have passed unvisited
    start = datetime.fromisoformat(plan["period"]["start"]).replace(tzinfo=UTC)
    assert put(client, _visit(world, "v1", start + timedelta(days=10))).status_code == 201
    assert put(client, _visit(world, "v1", start + timedelta(days=10))).status_code == 200  # again: no change
    stored = client.get(f"/fhir/CarePlan/{plan['id']}").get_json()
    visits = _follow_ups(stored, "hypertension-follow-up")
    assert [v["status"] for v in visits] == ["completed", "scheduled", "scheduled", "scheduled"]
    assert stored["activity"][0]["outcomeReference"] == [ref("Encounter", world.id("v1"))]
    assert stored["meta"]["versionId"] == "2"
    assert client.get(due).get_json()["total"] == 1  # the second window is still overdue
    put(client, _visit(world, "v-late", today - timedelta(days=1)))  # a late visit fills the overdue window
    visits = _follow_ups(client.get(f"/fhir/CarePlan/{plan['id']}").get_json(), "hypertension-follow-up")
    assert [v["status"] for v in visits] == ["completed", "completed", "scheduled", "scheduled"]
    assert client.get(due).get_json()["total"] == 0
    future = f"/fhir/CarePlan?subject=Patient/{world.id('pat')}&activity-due=lt{(today + timedelta(days=400)).date()}"
    assert client.get(future).get_json()["total"] == 1
    other = _visit(world, "v-other", today, item="diabetes-follow-up")
    put(client, other)  # an item the plan does not schedule fills nothing
    assert client.get(f"/fhir/CarePlan/{plan['id']}").get_json()["meta"]["versionId"] == "3"


def test_a_new_plan_counts_the_follow_ups_already_done_in_the_term(client, world):
    pid = world.id("hist")
    contract = next(r for r in world.resources() if r["resourceType"] == "Contract")
    load(client, [{"resourceType": "Patient", "id": pid, "gender": "female"},
                  {**contract, "id": pid + "-ctr", "subject": [ref("Patient", pid)]}])
    start = datetime.fromisoformat(contract["applies"]["start"]).replace(tzinfo=UTC)
    visit = {**_visit(world, "hist-v", start + timedelta(days=5)), "subject": ref("Patient", pid),
             "extension": [_visit(world, "x", start)["extension"][1]]}
    assert put(client, visit).status_code == 201
    plan = _apply(client, world, "pkg-htn", subject="hist").get_json()
    visits = _follow_ups(plan, "hypertension-follow-up")
    assert [v["status"] for v in visits] == ["completed", "scheduled", "scheduled", "scheduled"]
    assert plan["activity"][0]["outcomeReference"] == [ref("Encounter", world.id("hist-v"))]
