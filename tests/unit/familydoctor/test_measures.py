"""The assessment indicators on a hand-made district whose numbers are known (memory twin)."""

from __future__ import annotations

import datetime as dt

import pytest

from fhir_server.familydoctor.measures import BY_ID, MEASURES, Period, all_measures, evaluate
from fhir_server.repository.memory import MemoryRepository
from fhir_server.validation import validate_resource

SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def ext(name: str, **value) -> dict:
    return {"url": SD + name, **value}


def key(code: str) -> dict:
    return ext("jiayi-key-population", valueCodeableConcept={"coding": [{"system": CS + "key-population",
                                                                          "code": code}]})


def patient(pid: str, org: str, *keys: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "active": True, "extension": [key(k) for k in keys],
            "managingOrganization": {"reference": f"Organization/{org}"}}


def contract(cid: str, subjects: list[str], team: str, org: str, start: str, end: str, *, status="executed",
             packages=("pkg-basic",), renews: str | None = None, household: str | None = None) -> dict:
    extensions = [ext("jiayi-contract-care-team", valueReference={"reference": f"CareTeam/{team}"})]
    if renews:
        extensions.append(ext("jiayi-renews", valueReference={"reference": f"Contract/{renews}"}))
    if household:
        extensions.append(ext("jiayi-contract-household", valueReference={"reference": f"Group/{household}"}))
    return {"resourceType": "Contract", "id": cid, "status": status, "extension": extensions,
            "type": {"coding": [{"system": CS + "contract-type", "code": "family-doctor"}]},
            "applies": {"start": start, "end": end}, "subject": [{"reference": f"Patient/{s}"} for s in subjects],
            "authority": [{"reference": f"Organization/{org}"}],
            "term": [{"topicReference": {"reference": f"PlanDefinition/{p}"}} for p in packages]}


def package(pid: str, tier: str, items: dict[str, int]) -> dict:
    return {"resourceType": "PlanDefinition", "id": pid, "status": "active",
            "extension": [ext("jiayi-package-tier", valueCoding={"system": CS + "package-tier", "code": tier})],
            "action": [{"code": [{"coding": [{"system": CS + "service-item", "code": code}]}],
                        "timingTiming": {"repeat": {"frequency": n, "period": 1, "periodUnit": "a"}}}
                       for code, n in items.items()]}


def visit(eid: str, pid: str, when: str, item: str, cid: str | None = None) -> dict:
    extensions = [ext("jiayi-service-item", valueCodeableConcept={"coding": [{"system": CS + "service-item",
                                                                              "code": item}]})]
    if cid:
        extensions.insert(0, ext("jiayi-contract", valueReference={"reference": f"Contract/{cid}"}))
    return {"resourceType": "Encounter", "id": eid, "status": "finished", "extension": extensions,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"}, "period": {"start": when}}


def referral(sid: str, pid: str, direction: str, when: str, based_on: str | None = None) -> dict:
    resource = {"resourceType": "ServiceRequest", "id": sid, "status": "active", "intent": "order",
                "extension": [ext("jiayi-referral-direction", valueCoding={"system": CS + "referral-direction",
                                                                           "code": direction})],
                "subject": {"reference": f"Patient/{pid}"}, "authoredOn": when}
    if based_on:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{based_on}"}]
    return resource


def survey(qid: str, pid: str, answer: str) -> dict:
    return {"resourceType": "QuestionnaireResponse", "id": qid, "status": "completed", "authored": "2026-06-01",
            "questionnaire": "https://jiayi.dev/fhir/Questionnaire/jiayi-satisfaction",
            "subject": {"reference": f"Patient/{pid}"},
            "item": [{"linkId": "overall", "answer": [{"valueCoding": {"system": CS + "satisfaction",
                                                                       "code": answer}}]}]}


DISTRICT = [
    package("pkg-basic", "basic", {"health-consultation": 2}),
    package("pkg-htn", "disease-specific", {"hypertension-follow-up": 4}),
    {"resourceType": "CareTeam", "id": "t1", "managingOrganization": [{"reference": "Organization/phc1"}],
     "extension": [ext("jiayi-team-capacity", valuePositiveInt=4)]},
    {"resourceType": "CareTeam", "id": "t2", "managingOrganization": [{"reference": "Organization/phc2"}]},
    patient("p1", "phc1", "hypertension", "elderly-65"),
    patient("p2", "phc1"),
    patient("p3", "phc1", "diabetes-t2"),
    patient("p4", "phc2"),
    patient("p5", "phc2", "elderly-65"),
    # p1 and p2 as a household on t1 with a hypertension package; p3 alone on t1; p4 on t2; p5 unsigned
    contract("c1", ["p1", "p2"], "t1", "phc1", "2026-01-01", "2027-12-31", packages=("pkg-basic", "pkg-htn"),
             household="hh1"),
    contract("c3", ["p3"], "t1", "phc1", "2025-07-01", "2026-06-30"),
    contract("c3b", ["p3"], "t1", "phc1", "2026-07-01", "2027-06-30", renews="c3"),
    contract("c4", ["p4"], "t2", "phc2", "2024-03-01", "2026-02-28"),  # ended, not renewed
    contract("c4b", ["p4"], "t2", "phc2", "2026-03-01", "2027-02-28"),  # a new contract, not a renewal
    contract("c5", ["p5"], "t2", "phc2", "2025-01-01", "2026-12-31", status="terminated"),
    visit("e1", "p1", "2026-02-01T09:00:00+08:00", "hypertension-follow-up", "c1"),
    visit("e2", "p1", "2026-05-01T09:00:00+08:00", "hypertension-follow-up", "c1"),
    visit("e3", "p1", "2026-08-01T09:00:00+08:00", "hypertension-follow-up", "c1"),
    visit("e4", "p1", "2026-11-01T09:00:00+08:00", "hypertension-follow-up", "c1"),
    visit("e5", "p2", "2026-03-01T09:00:00+08:00", "health-consultation", "c1"),
    visit("e6", "p3", "2025-12-01T09:00:00+08:00", "health-consultation"),  # before the period
    referral("up1", "p1", "upward", "2026-04-01T10:00:00+08:00"),
    referral("up2", "p3", "upward", "2026-09-01T10:00:00+08:00"),
    referral("down1", "p1", "downward", "2026-04-20T10:00:00+08:00", based_on="up1"),
    survey("q1", "p1", "1"), survey("q2", "p2", "2"), survey("q3", "p4", "3"),
    {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
     "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-03-01",
     "dispenseRequest": {"expectedSupplyDuration": {"value": 56, "unit": "天", "code": "d"}}},
]


@pytest.fixture(scope="module")
def uow():
    repo = MemoryRepository()
    with repo.unit_of_work(write=True) as work:
        for resource in DISTRICT:
            work.save("PUT", resource["resourceType"], resource["id"], resource, None)
    with repo.unit_of_work() as work:
        yield work


def group(report: dict) -> tuple[dict[str, int], float | None]:
    g = report["group"][0]
    return {p["code"]["coding"][0]["code"]: p["count"] for p in g["population"]}, g.get("measureScore", {}).get("value")


def stratum(report: dict, stratifier: str, value: str) -> dict[str, int]:
    for s in report["group"][0]["stratifier"]:
        if s["code"][0]["text"] == stratifier:
            for entry in s.get("stratum", ()):
                if entry["value"]["text"] == value:
                    return {p["code"]["coding"][0]["code"]: p["count"] for p in entry["population"]}
    raise AssertionError(f"no stratum {stratifier}={value}")


EXPECTED = [  # measure, numerator (or count), denominator, score
    ("jiayi-coverage", 4, 5, 0.8),  # p1 p2 (c1), p3 (c3b), p4 (c4b) in force on 31 Dec; p5 terminated
    ("jiayi-key-population-coverage", 2, 3, 0.6667),  # p1 p3 of p1 p3 p5
    ("jiayi-renewal-rate", 1, 2, 0.5),  # c3 ended and was renewed (c3b); c4 ended, c4b does not renew it
    ("jiayi-follow-up-rate", 2, 4, 0.5),  # p1 p2 had visits in 2026; p3 (visit in 2025) and p4 none
    ("jiayi-chronic-follow-up-rate", 1, 2, 0.5),  # p1 four follow-ups; p3 none
    ("jiayi-return-rate", 1, 2, 0.5),  # up1 answered by down1
    ("jiayi-satisfaction", 2, 3, 0.6667),
    ("jiayi-paid-contract-share", 1, 3, 0.3333),  # c1 has the disease package; c3b and c4b basic
    ("jiayi-long-term-prescriptions", 1, 2, 0.5),  # p1 of p1 p3
]


@pytest.mark.parametrize(("measure", "numerator", "denominator", "score"), EXPECTED)
def test_proportion_measures(uow, measure, numerator, denominator, score):
    counts, value = group(evaluate(uow, BY_ID[measure], YEAR))
    assert (counts["numerator"], counts["denominator"], value) == (numerator, denominator, score)


def test_fulfilment_counts_services_due_and_delivered(uow):
    # c1 (2 people): consultation 2/yr x2 = 4 due, 1 delivered; htn follow-up 4 x2 = 8 due, 4 delivered.
    # c3b and c4b: consultation 2 due each, none delivered under those contracts.
    counts, value = group(evaluate(uow, BY_ID["jiayi-fulfilment-rate"], YEAR))
    assert (counts["numerator"], counts["denominator"]) == (5, 16)
    assert value == round(5 / 16, 4)


def test_cohort_measures_count_referrals(uow):
    assert group(evaluate(uow, BY_ID["jiayi-upward-referrals"], YEAR)) == ({"initial-population": 2}, 2)
    assert group(evaluate(uow, BY_ID["jiayi-downward-referrals"], YEAR)) == ({"initial-population": 1}, 1)
    first_half = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert group(evaluate(uow, BY_ID["jiayi-upward-referrals"], first_half)) == ({"initial-population": 1}, 1)


def test_team_load_counts_households_against_capacity(uow):
    report = evaluate(uow, BY_ID["jiayi-team-load"], YEAR)
    # t1: household hh1 + c3b = 2 of capacity 4; t2: c4b = 1 of the default 1,500
    assert stratum(report, "team", "CareTeam/t1") == {"initial-population": 4, "denominator": 4, "numerator": 2}
    assert stratum(report, "team", "CareTeam/t2")["numerator"] == 1
    assert stratum(report, "institution", "Organization/phc2")["denominator"] == 1500


def test_coverage_is_stratified_by_institution_team_and_key_population(uow):
    report = evaluate(uow, BY_ID["jiayi-coverage"], YEAR)
    assert stratum(report, "institution", "Organization/phc1") == {"initial-population": 3, "denominator": 3,
                                                                   "numerator": 3}
    assert stratum(report, "institution", "Organization/phc2")["numerator"] == 1
    assert stratum(report, "team", "none") == {"initial-population": 1, "denominator": 1, "numerator": 0}
    assert stratum(report, "key-population", "elderly-65") == {"initial-population": 2, "denominator": 2,
                                                               "numerator": 1}
    assert stratum(report, "key-population", "none")["denominator"] == 2


def test_resident_population_replaces_the_coverage_denominator(uow):
    counts, value = group(evaluate(uow, BY_ID["jiayi-coverage"], YEAR, resident_population=10))
    assert (counts["numerator"], counts["denominator"], value) == (4, 10, 0.4)


def test_in_force_is_judged_on_the_period_end(uow):
    mid = Period(dt.date(2026, 1, 1), dt.date(2026, 6, 15))  # p3 under c3, p4 under c4b, p5 terminated
    counts, _ = group(evaluate(uow, BY_ID["jiayi-coverage"], mid))
    assert counts["numerator"] == 4


def test_individual_and_subject_list_reports(uow):
    individual = evaluate(uow, BY_ID["jiayi-coverage"], YEAR, report_type="individual", subject="Patient/p5")
    assert individual["type"] == "individual" and individual["subject"] == {"reference": "Patient/p5"}
    assert group(individual) == ({"initial-population": 1, "denominator": 1, "numerator": 0}, 0.0)
    listed = evaluate(uow, BY_ID["jiayi-return-rate"], YEAR, report_type="subject-list")
    lists = {c["id"]: [e["item"]["reference"] for e in c.get("entry", ())] for c in listed["contained"]}
    assert lists["numerator"] == ["ServiceRequest/up1"]
    assert sorted(lists["denominator"]) == ["ServiceRequest/up1", "ServiceRequest/up2"]


@pytest.mark.parametrize("row", MEASURES, ids=lambda r: r.id)
def test_every_measure_and_its_report_are_valid_r4(uow, row):
    measure = next(m for m in all_measures() if m["id"] == row.id)
    assert [i for i in validate_resource(measure, "Measure") if i.is_error] == []
    for report_type in ("summary", "subject-list"):
        report = evaluate(uow, row, YEAR, report_type=report_type)
        assert [i for i in validate_resource(report, "MeasureReport") if i.is_error] == []
