"""The national follow-up rules (SPEC §4 Care plans, standards.md §1.7) as write hooks on a
follow-up visit's Observations — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from referral_world import CS, SD, hypertension_package, load, new_world, put, ref, resident_with_plan, valid_r4

from fhir_server.familydoctor.rules.follow_up import THRESHOLDS

LOINC = "http://loinc.org"
PROPOSAL = "https://jiayi.dev/fhir/sid/referral-proposal"


@pytest.fixture(scope="module")
def world(app):
    w = new_world()
    load(app.test_client(), [*w.resources(), hypertension_package(w)])
    return w


def _resident(client, world) -> tuple[str, str]:
    """A new resident under contract with the world's team, with a stored plan."""
    return resident_with_plan(client, world)


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def _observations(eid: str, pid: str, spec: dict) -> list[dict]:
    base = {"resourceType": "Observation", "status": "final", "subject": ref("Patient", pid),
            "encounter": ref("Encounter", eid)}
    out = []
    if "bp" in spec:
        sbp, dbp = spec["bp"]
        out.append({**base, "id": eid + "-bp", "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
                    "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                                   "valueQuantity": _quantity(sbp, "mm[Hg]")},
                                  {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                                   "valueQuantity": _quantity(dbp, "mm[Hg]")}]})
    if "glucose" in spec:
        value, unit = spec["glucose"]
        out.append({**base, "id": eid + "-glu", "code": {"coding": [{"system": LOINC, "code": "14771-0"}]},
                    "valueQuantity": _quantity(value, unit)})
    if "class" in spec:
        out.append({**base, "id": eid + "-cls", "code": {"text": "此次随访分类"},
                    "valueCodeableConcept": {"coding": [{"system": CS + "follow-up-classification",
                                                         "code": spec["class"]}]}})
    return out


def _visit(client, world, pid: str, k: int, spec: dict) -> str:
    eid = f"{pid}-v{k}"
    day = datetime.now(UTC) - timedelta(days=60 - 20 * k)
    encounter = {"resourceType": "Encounter", "id": eid, "status": "finished",
                 "extension": [{"url": SD + "jiayi-contract", "valueReference": ref("Contract", pid + "-ctr")}],
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "type": [{"coding": [{"system": CS + "follow-up-method", "code": "clinic"}]}],
                 "subject": ref("Patient", pid), "participant": [{"individual": ref("Practitioner", world.id("fd"))}],
                 "period": {"start": day.strftime("%Y-%m-%dT10:00:00+08:00")}}
    load(client, [encounter, *_observations(eid, pid, spec)])
    return eid


def _proposals(client, pid: str) -> list[dict]:
    bundle = client.get(f"/fhir/ServiceRequest?subject=Patient/{pid}&status=draft").get_json()
    return [e["resource"] for e in bundle.get("entry", [])]


def _two_week(client, plan_id: str) -> list[dict]:
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    return [a["detail"] for a in plan["activity"] if a["detail"].get("reasonReference")]


OK, HIGH, DANGER = {"bp": (128, 78)}, {"bp": (150, 92)}, {"bp": (186, 100)}
SCENARIOS = [
    # visits in order → (priority of the proposal or None, number of 2-week follow-ups)
    ("satisfactory", [OK, OK], None, 0),
    ("first unsatisfactory", [OK, HIGH], None, 1),
    ("two unsatisfactory in a row", [HIGH, HIGH], "urgent", 2),  # routine, raised: own doctor, 1+1+1
    ("unsatisfactory then fine", [HIGH, OK], None, 1),
    ("danger blood pressure", [DANGER], "asap", 1),
    ("diastolic danger", [{"bp": (150, 112)}], "asap", 1),
    ("low glucose", [{"glucose": (3.6, "mmol/L")}], "asap", 1),
    ("high glucose in mg/dL", [{"glucose": (310, "mg/dL")}], "asap", 1),
    ("glucose unsatisfactory twice", [{"glucose": (7.4, "mmol/L")}, {"glucose": (8.1, "mmol/L")}], "urgent", 2),
    ("adverse reaction once", [{"class": "adverse-reaction"}], None, 1),
    ("adverse reaction uncontrolled", [{"class": "adverse-reaction"}, {"class": "adverse-reaction"}], "urgent", 2),
    ("complication", [{"bp": (130, 80), "class": "complication"}], "urgent", 1),
    ("escalated within a visit", [HIGH, {"bp": (150, 95), "glucose": (17.2, "mmol/L")}], "asap", 2),
]


@pytest.mark.parametrize(("case", "visits", "priority", "follow_ups"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_follow_up_rules(client, world, case, visits, priority, follow_ups):
    pid, plan_id = _resident(client, world)
    for k, spec in enumerate(visits):
        last = _visit(client, world, pid, k, spec)
    proposals = _proposals(client, pid)
    assert [p["priority"] for p in proposals] == ([priority] if priority else []), case
    scheduled = _two_week(client, plan_id)
    assert len(scheduled) == follow_ups, case
    if scheduled:
        period = scheduled[-1]["scheduledPeriod"]
        days = datetime.fromisoformat(period["end"]) - datetime.fromisoformat(period["start"])
        assert days == timedelta(days=14) and scheduled[-1]["status"] in ("scheduled", "completed")
    if priority:
        sr = proposals[0]
        assert sr["intent"] == "proposal" and sr["identifier"] == [{"system": PROPOSAL, "value": f"Encounter/{last}"}]
        assert sr["requester"] == ref("Practitioner", world.id("fd"))
        assert sr["performer"] == [ref("Organization", world.id("hosp"))]
        tasks = client.get(f"/fhir/Task?focus=ServiceRequest/{sr['id']}").get_json()["entry"]
        task = tasks[0]["resource"]
        assert len(tasks) == 1 and task["status"] == "draft" and task["owner"] == ref("Practitioner", world.id("fd"))
        assert task["priority"] == sr["priority"] and sr["reasonCode"][0]["text"]
        assert valid_r4(sr) and valid_r4(task) and valid_r4(client.get(f"/fhir/CarePlan/{plan_id}").get_json())


def test_rules_fire_once_per_visit(client, world):
    pid, plan_id = _resident(client, world)
    _visit(client, world, pid, 0, HIGH)
    eid = _visit(client, world, pid, 1, HIGH)
    observations = _observations(eid, pid, {"bp": (152, 96)})
    for _ in range(2):  # a changed value, written twice: no second proposal or follow-up
        assert put(client, observations[0]).status_code == 200
    assert len(_proposals(client, pid)) == 1 and len(_two_week(client, plan_id)) == 2


def test_next_visit_fills_the_two_week_follow_up(client, world):
    pid, plan_id = _resident(client, world)
    _visit(client, world, pid, 0, HIGH)
    eid = _visit(client, world, pid, 1, OK)
    follow_up = _two_week(client, plan_id)[0]
    assert follow_up["status"] == "completed"
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    filled = [a for a in plan["activity"] if a.get("outcomeReference") == [ref("Encounter", eid)]]
    assert len(filled) == 1 and filled[0]["detail"].get("reasonReference")


def test_observations_outside_follow_ups_trigger_nothing(client, world):
    pid, _plan = _resident(client, world)
    obs = _observations("none", pid, DANGER)[0]
    del obs["encounter"]
    assert put(client, obs).status_code == 201
    assert _proposals(client, pid) == []


def test_thresholds_are_a_table():
    assert {t.measure: (t.unsatisfactory, t.danger_high, t.danger_low) for t in THRESHOLDS} == {
        "收缩压": (140, 180, None), "舒张压": (90, 110, None), "空腹血糖": (7.0, 16.7, 3.9)}


def test_a_referral_sent_is_followed_up_within_two_weeks(client, world):
    pid, plan_id = _resident(client, world)
    sr = {**world.referral(f"{pid}-sent", status="draft"), "subject": ref("Patient", pid)}
    assert put(client, sr).status_code == 201
    assert _after(client, plan_id) == []  # a draft is not sent yet
    sr["status"] = "active"
    assert put(client, sr).status_code == 200
    sr["note"] = [{"text": "已电话联系患者"}]
    assert put(client, sr).status_code == 200  # still active: not scheduled twice
    after = _after(client, plan_id)
    assert len(after) == 1 and after[0]["detail"]["code"]["coding"][0]["code"] == "hypertension-follow-up"
    period = after[0]["detail"]["scheduledPeriod"]
    assert (datetime.fromisoformat(period["end"]) - datetime.fromisoformat(period["start"])).days == 14


def _after(client, plan_id: str) -> list[dict]:
    plan = client.get(f"/fhir/CarePlan/{plan_id}").get_json()
    return [a for a in plan["activity"] if any(e["url"] == SD + "jiayi-follow-up-after" for e in a.get("extension", []))
            and a["extension"][0]["valueReference"]["reference"].startswith("ServiceRequest/")]


# Each threshold of the follow-up table (standards.md §1.7), exactly at it and one step to the
# safe side, for a resident's first visit: a value at an "unsatisfactory" threshold schedules
# the 2-week follow-up, a value at a danger threshold raises an urgent (asap) proposal.
BOUNDARIES = [
    # (case, one visit, proposal priority or None, 2-week follow-ups)
    ("SBP 139: satisfactory", {"bp": (139, 80)}, None, 0),
    ("SBP 140: unsatisfactory", {"bp": (140, 80)}, None, 1),
    ("SBP 179: unsatisfactory, no danger", {"bp": (179, 80)}, None, 1),
    ("SBP 180: danger", {"bp": (180, 80)}, "asap", 1),
    ("DBP 89: satisfactory", {"bp": (120, 89)}, None, 0),
    ("DBP 90: unsatisfactory", {"bp": (120, 90)}, None, 1),
    ("DBP 109: unsatisfactory, no danger", {"bp": (120, 109)}, None, 1),
    ("DBP 110: danger", {"bp": (120, 110)}, "asap", 1),
    ("glucose 6.9: satisfactory", {"glucose": (6.9, "mmol/L")}, None, 0),
    ("glucose 7.0: unsatisfactory", {"glucose": (7.0, "mmol/L")}, None, 1),
    ("glucose 16.6: unsatisfactory, no danger", {"glucose": (16.6, "mmol/L")}, None, 1),
    ("glucose 16.7: danger", {"glucose": (16.7, "mmol/L")}, "asap", 1),
    ("glucose 4.0: satisfactory", {"glucose": (4.0, "mmol/L")}, None, 0),
    ("glucose 3.9: danger (low)", {"glucose": (3.9, "mmol/L")}, "asap", 1),
    ("glucose 125 mg/dL (6.9): satisfactory", {"glucose": (125, "mg/dL")}, None, 0),
    ("glucose 126 mg/dL (7.0): unsatisfactory", {"glucose": (126, "mg/dL")}, None, 1),
    ("glucose 70 mg/dL (3.9): danger (low)", {"glucose": (70, "mg/dL")}, "asap", 1),
    ("glucose 72 mg/dL (4.0): satisfactory", {"glucose": (72, "mg/dL")}, None, 0),
]


@pytest.mark.parametrize(("case", "spec", "priority", "follow_ups"), BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_each_threshold_at_its_boundary(client, world, case, spec, priority, follow_ups):
    pid, plan_id = _resident(client, world)
    _visit(client, world, pid, 0, spec)
    assert [p["priority"] for p in _proposals(client, pid)] == ([priority] if priority else []), case
    assert len(_two_week(client, plan_id)) == follow_ups, case


@pytest.mark.parametrize(("case", "second", "priority"), [
    ("unsatisfactory at the threshold twice", {"bp": (140, 80)}, "urgent"),
    ("then just below", {"bp": (139, 89)}, None),
    ("glucose at 7.0 twice", {"glucose": (7.0, "mmol/L")}, "urgent"),
    ("glucose then 6.9", {"glucose": (6.9, "mmol/L")}, None),
], ids=lambda v: v if isinstance(v, str) else None)
def test_two_visits_in_a_row_at_the_threshold(client, world, case, second, priority):
    pid, _plan = _resident(client, world)
    first = {"bp": (140, 80)} if "bp" in second else {"glucose": (7.0, "mmol/L")}
    _visit(client, world, pid, 0, first)
    _visit(client, world, pid, 1, second)
    assert [p["priority"] for p in _proposals(client, pid)] == ([priority] if priority else []), case


# What the doctor reads: the proposal's reason and the 2-week follow-up's text name the rule.
REASONS = [
    # (case, visits, the proposal's reason or None, the last 2-week follow-up's text)
    ("first unsatisfactory", [OK, {"bp": (150, 92)}], None, "第1次控制不满意，2周内随访"),
    ("adverse reaction once", [{"class": "adverse-reaction"}], None, "药物不良反应，2周内随访"),
    ("danger", [{"bp": (186, 100)}], "危急值，紧急转诊（收缩压 186 mmHg）", "转诊后2周内随访"),
    ("two unsatisfactory", [HIGH, {"bp": (152, 80)}], "连续两次控制不满意（收缩压 152 mmHg）", "转诊后2周内随访"),
    ("two unsatisfactory values", [HIGH, {"bp": (152, 96)}],
     "连续两次控制不满意（收缩压 152 mmHg；舒张压 96 mmHg）", "转诊后2周内随访"),
    ("adverse reaction uncontrolled", [{"class": "adverse-reaction"}, {"class": "adverse-reaction"}],
     "药物不良反应难以控制", "转诊后2周内随访"),
    ("complication", [{"bp": (130, 80), "class": "complication"}], "出现新的并发症或原有并发症加重", "转诊后2周内随访"),
]


@pytest.mark.parametrize(("case", "visits", "reason", "follow_up"), REASONS, ids=[r[0] for r in REASONS])
def test_the_reasons_name_the_rule(client, world, case, visits, reason, follow_up):
    pid, plan_id = _resident(client, world)
    for k, spec in enumerate(visits):
        _visit(client, world, pid, k, spec)
    proposals = _proposals(client, pid)
    assert [p["reasonCode"][0]["text"] for p in proposals] == ([reason] if reason else []), case
    assert _two_week(client, plan_id)[-1]["code"]["text"] == follow_up, case


def _glucose(eid: str, pid: str, quantity: dict, status: str = "final") -> dict:
    return {"resourceType": "Observation", "id": eid + "-glu", "status": status, "subject": ref("Patient", pid),
            "encounter": ref("Encounter", eid), "code": {"coding": [{"system": LOINC, "code": "14771-0"}]},
            "valueQuantity": quantity}


@pytest.mark.parametrize(("case", "quantity", "priority", "follow_ups"), [
    ("the unit alone says mg/dL", {"value": 126, "unit": "mg/dL"}, None, 1),
    ("the unit alone, in mmol/L", {"value": 126, "unit": "mmol/L"}, "asap", 1),
    ("the UCUM code wins over a local unit text", {"value": 126, "unit": "毫克/分升", "system":
                                                   "http://unitsofmeasure.org", "code": "mg/dL"}, None, 1),
    ("mg/dL is converted, then rounded to 0.1 mmol/L", {"value": 125.5, "unit": "mg/dL"}, None, 1),
    ("125.0 mg/dL is 6.9 mmol/L", {"value": 125.0, "unit": "mg/dL"}, None, 0),
], ids=lambda v: v if isinstance(v, str) else None)
def test_glucose_units(client, world, case, quantity, priority, follow_ups):
    pid, plan_id = _resident(client, world)
    eid = _visit(client, world, pid, 0, {})
    assert put(client, _glucose(eid, pid, quantity)).status_code == 201
    assert [p["priority"] for p in _proposals(client, pid)] == ([priority] if priority else []), case
    assert len(_two_week(client, plan_id)) == follow_ups, case
    if follow_ups:
        assert _two_week(client, plan_id)[0]["code"]["coding"][0]["code"] == "diabetes-follow-up"


def test_the_follow_up_is_for_the_measure_that_was_out_of_range(client, world):
    pid, plan_id = _resident(client, world)
    _visit(client, world, pid, 0, {"bp": (150, 80)})
    assert _two_week(client, plan_id)[0]["code"]["coding"][0]["code"] == "hypertension-follow-up"


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_a_withdrawn_observation_is_not_judged(client, world, status):
    pid, plan_id = _resident(client, world)
    eid = _visit(client, world, pid, 0, {})
    danger = _observations(eid, pid, {"bp": (190, 120)})[0]
    assert put(client, {**danger, "status": status}).status_code == 201
    assert _proposals(client, pid) == [] and _two_week(client, plan_id) == []
    # the visit's other, valid values are still judged (a withdrawn one does not stop the rest)
    assert put(client, _glucose(eid, pid, {"value": 17.0, "unit": "mmol/L"})).status_code == 201
    assert [p["priority"] for p in _proposals(client, pid)] == ["asap"]
    assert _proposals(client, pid)[0]["reasonCode"][0]["text"] == "危急值，紧急转诊（空腹血糖 17 mmol/L）"


def test_a_visit_classified_unsatisfactory_counts_as_unsatisfactory(client, world):
    pid, plan_id = _resident(client, world)
    _visit(client, world, pid, 0, {"bp": (128, 78), "class": "unsatisfactory"})
    assert [d["code"]["text"] for d in _two_week(client, plan_id)] == ["第1次控制不满意，2周内随访"]
    _visit(client, world, pid, 1, {"class": "unsatisfactory"})
    (proposal,) = _proposals(client, pid)
    assert proposal["reasonCode"][0]["text"] == "连续两次控制不满意（classified 控制不满意）"


def test_the_evidence_is_the_observations_that_decided(client, world):
    pid, _plan = _resident(client, world)
    eid = _visit(client, world, pid, 0, {})
    weight = {"resourceType": "Observation", "id": eid + "-wt", "status": "final", "subject": ref("Patient", pid),
              "encounter": ref("Encounter", eid), "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
              "valueQuantity": {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
    assert put(client, weight).status_code == 201  # a value without a rule: judged with the next one
    assert put(client, _observations(eid, pid, {"bp": (186, 100)})[0]).status_code == 201
    (proposal,) = _proposals(client, pid)
    assert proposal["reasonReference"] == [ref("Observation", eid + "-bp")]
