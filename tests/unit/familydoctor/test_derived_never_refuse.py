"""A rule's own derived resource never refuses a valid client write (issue 16.1).

Random valid clinical writes — follow-up visits with blood pressure, glucose and
classification Observations (danger values included), other Encounters, Conditions and
MedicationRequests — for residents in every contract state: under a contract in force, no
contract, a contract whose team is gone, a team without a family doctor on record, a
terminated and an expired contract.  Each write is accepted; what the rules derived from it
is tagged ``derived-by`` and valid against the profiles it claims.  On the in-memory twin
with a fixed clock; the district is built once per module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from contract_data import JSON, World, participant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_server.app import create_app
from fhir_server.core import jiayi_names as jn
from fhir_server.core.clock import counting_ids
from fhir_server.repository.memory import MemoryRepository
from fhir_server.validation import validate_resource

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
STATES = ("in-force", "no-contract", "no-team", "no-doctor", "terminated", "expired")


@pytest.fixture(scope="module")
def district():
    app = create_app({"TESTING": True}, repository=MemoryRepository(clock=lambda: NOW, ids=counting_ids("d")),
                     clock=lambda: NOW)
    client = app.test_client()
    world = World("prop")
    world.load(lambda url, resource: client.put(f"/fhir/{url}", json=resource, headers=JSON))
    residents = {state: f"res-{state}" for state in STATES}
    for pid in residents.values():
        _put(client, {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-03-04"})
    gone, ghost = "team-gone", "team-ghost"  # a team later deleted; a team whose lead is on no record
    _put(client, {**_team(world, gone, f"Practitioner/{world.doctor}"), "id": gone})
    _put(client, _team(world, ghost, "PractitionerRole/nobody"))
    for state, team, start, end in [("in-force", None, "2026-01-01", "2026-12-31"),
                                    ("no-team", gone, "2026-01-01", "2026-12-31"),
                                    ("no-doctor", ghost, "2026-01-01", "2026-12-31"),
                                    ("terminated", None, "2026-01-01", "2026-12-31"),
                                    ("expired", None, "2025-01-01", "2025-12-31")]:
        _put(client, world.contract([residents[state]], start, end, team=team, cid=f"ctr-{state}"))
    assert client.delete(f"/fhir/CareTeam/{gone}").status_code in (200, 204)
    terminated = client.post("/fhir/Contract/ctr-terminated/$terminate", json={"resourceType": "Parameters",
                             "parameter": [{"name": "reason", "valueCode": "relocation"},
                                           {"name": "date", "valueDate": "2026-06-30"}]})
    assert terminated.status_code == 200, terminated.get_json()
    return app, client, world, residents


def _team(world: World, tid: str, lead: str) -> dict:
    return {"resourceType": "CareTeam", "id": tid, "status": "active",
            "category": [{"coding": [{"system": jn.CARE_TEAM_CATEGORY, "code": "family-doctor-team"}]}],
            "participant": [participant(lead, "family-doctor", True)],
            "managingOrganization": [{"reference": f"Organization/{world.org}"}]}


def _put(client, resource: dict):
    response = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.get_json()
    return response


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _bp(sbp: int, dbp: int) -> dict:
    return {"code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                           "valueQuantity": _quantity(sbp, "mm[Hg]")},
                          {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                           "valueQuantity": _quantity(dbp, "mm[Hg]")}]}


def _glucose(value: float, unit: str) -> dict:
    return {"code": {"coding": [{"system": LOINC, "code": "14771-0"}]}, "valueQuantity": _quantity(value, unit)}


def _classified(code: str) -> dict:
    return {"code": {"text": "此次随访分类"},
            "valueCodeableConcept": {"coding": [{"system": jn.CS + "follow-up-classification", "code": code}]}}


observation = st.one_of(
    st.builds(_bp, st.integers(60, 260), st.integers(30, 150)),
    st.sampled_from([(140, 90), (180, 110), (139, 89), (179, 109)]).map(lambda v: _bp(*v)),  # at the thresholds
    st.builds(_glucose, st.floats(1.0, 30.0).map(lambda v: round(v, 1)), st.just("mmol/L")),
    st.sampled_from([3.9, 4.0, 6.9, 7.0, 16.6, 16.7]).map(lambda v: _glucose(v, "mmol/L")),
    st.builds(_glucose, st.integers(20, 540), st.just("mg/dL")),
    st.sampled_from(["satisfactory", "unsatisfactory", "adverse-reaction", "complication"]).map(_classified),
)


@st.composite
def visit(draw) -> dict:
    """A follow-up (or plain) Encounter and its Observations, for one resident."""
    return {"state": draw(st.sampled_from(STATES)), "day": draw(st.integers(0, 300)),
            "follow_up": draw(st.booleans()), "doctor": draw(st.booleans()), "names_contract": draw(st.booleans()),
            "observations": draw(st.lists(observation, min_size=1, max_size=4)),
            "extra": draw(st.sampled_from(["none", "condition-I10", "condition-E11", "medication"]))}


def _bundle(world: World, residents: dict, case: dict, n: int) -> dict:
    pid = residents[case["state"]]
    eid = f"v{n}-{case['state']}"
    start = (date(2026, 1, 10) + timedelta(days=case["day"])).isoformat() + "T10:00:00+08:00"
    encounter: dict = {"resourceType": "Encounter", "id": eid, "status": "finished",
                       "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                       "subject": {"reference": f"Patient/{pid}"}, "period": {"start": start}}
    if case["follow_up"]:
        encounter["type"] = [{"coding": [{"system": jn.FOLLOW_UP_METHOD, "code": "clinic"}]}]
    if case["doctor"]:
        encounter["participant"] = [{"individual": {"reference": f"Practitioner/{world.doctor}"}}]
    if case["names_contract"] and case["state"] != "no-contract":
        encounter["extension"] = [{"url": jn.CONTRACT_EXT,
                                   "valueReference": {"reference": f"Contract/ctr-{case['state']}"}}]
    resources = [encounter]
    for i, part in enumerate(case["observations"]):
        resources.append({"resourceType": "Observation", "id": f"{eid}-o{i}", "status": "final", **part,
                          "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                          "effectiveDateTime": start})
    if case["extra"].startswith("condition"):
        resources.append({"resourceType": "Condition", "id": f"{eid}-c", "subject": {"reference": f"Patient/{pid}"},
                          "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                         "code": "active"}]},
                          "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                                               "code": case["extra"][-3:]}]}})
    if case["extra"] == "medication":
        resources.append({"resourceType": "MedicationRequest", "id": f"{eid}-m", "status": "active", "intent": "order",
                          "medicationCodeableConcept": {"text": "苯磺酸氨氯地平片 5mg"},
                          "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                          "authoredOn": start[:10]})
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                      for r in resources]}


COUNTER = iter(range(10**6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(visit(), min_size=1, max_size=2))
def test_no_valid_clinical_write_is_refused_because_of_a_derived_resource(district, cases):
    _app, client, world, residents = district
    for case in cases:
        response = client.post("/fhir", json=_bundle(world, residents, case, next(COUNTER)))
        assert response.status_code == 200, (case["state"], response.get_json())


def test_what_the_rules_derived_is_tagged_and_valid(district):
    """Every derived resource is valid R4 and valid against the profiles it claims; a resident
    with a family doctor on record gets the proposal."""
    app, client, world, residents = district
    for case in [{"state": s, "day": 300, "follow_up": True, "doctor": False, "names_contract": True,
                  "observations": [_bp(190, 115)], "extra": "none"} for s in STATES]:
        assert client.post("/fhir", json=_bundle(world, residents, case, next(COUNTER))).status_code == 200
    validator = app.extensions["jiayi.validator"]
    derived = []
    for kind in ("ServiceRequest", "Task", "CarePlan"):
        bundle = client.get(f"/fhir/{kind}?_tag={jn.DERIVED_BY}|&_count=500").get_json()
        derived += [e["resource"] for e in bundle.get("entry", [])]
    for resource in derived:
        issues = validate_resource(resource, resource["resourceType"]) + validator.write_issues(resource)
        assert not [i for i in issues if i.is_error], (resource["resourceType"], [i.diagnostics for i in issues])
    proposals = client.get(f"/fhir/ServiceRequest?subject=Patient/{residents['in-force']}&status=draft").get_json()
    assert proposals.get("entry"), "a resident with a family doctor gets the proposal"
    assert all(jn.DERIVED_BY in {t.get("system") for t in e["resource"]["meta"].get("tag", [])}
               for e in proposals["entry"])
