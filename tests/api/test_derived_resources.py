"""What the rules write on their own (issue 16.1, issue 15.2), on SQLite and PostgreSQL: a
derived resource that would not be valid is not written and never refuses the client's valid
write; what is written is tagged ``derived-by`` with the rule that wrote it."""

from __future__ import annotations

import uuid

import pytest
from referral_world import CS, SD, load, new_world, put, ref

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
DERIVED_BY = "https://jiayi.dev/fhir/CodeSystem/derived-by"


@pytest.fixture(scope="module")
def world(app):
    w = new_world()
    load(app.test_client(), w.resources())
    return w


def _follow_up(client, pid: str, doctor: str | None, contract: str | None, sbp: int, dbp: int) -> str:
    eid = f"{pid}-v{uuid.uuid4().hex[:6]}"
    encounter = {"resourceType": "Encounter", "id": eid, "status": "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "type": [{"coding": [{"system": CS + "follow-up-method", "code": "clinic"}]}],
                 "subject": ref("Patient", pid), "period": {"start": "2026-11-01T10:00:00+08:00"}}
    if doctor:
        encounter["participant"] = [{"individual": ref("Practitioner", doctor)}]
    if contract:
        encounter["extension"] = [{"url": SD + "jiayi-contract", "valueReference": ref("Contract", contract)}]
    assert put(client, encounter).status_code == 201
    bp = {"resourceType": "Observation", "id": eid + "-bp", "status": "final", "subject": ref("Patient", pid),
          "encounter": ref("Encounter", eid), "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
          "component": [{"code": {"coding": [{"system": LOINC, "code": code}]},
                         "valueQuantity": {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
                        for code, value in (("8480-6", sbp), ("8462-4", dbp))]}
    response = put(client, bp)
    assert response.status_code == 201, response.get_json()
    return eid


def _proposals(client, pid: str) -> list[dict]:
    bundle = client.get(f"/fhir/ServiceRequest?subject=Patient/{pid}&status=draft").get_json()
    return [e["resource"] for e in bundle.get("entry", [])]


def test_a_danger_value_without_a_family_doctor_on_record_is_accepted(client, world):
    """The reported case: no contract and no doctor on the visit, so the proposal would have
    no requester (jiayi-referral requires one); it is not written, the Observation is."""
    pid = world.id("alone" + uuid.uuid4().hex[:6])
    load(client, [{"resourceType": "Patient", "id": pid, "gender": "male"}])
    _follow_up(client, pid, None, None, 186, 115)
    assert _proposals(client, pid) == []


def test_what_a_rule_writes_is_tagged_with_the_rule(client, world):
    pid = world.id("signed" + uuid.uuid4().hex[:6])
    contract = next(r for r in world.resources() if r["resourceType"] == "Contract")
    load(client, [{"resourceType": "Patient", "id": pid, "gender": "male"},
                  {**contract, "id": pid + "-ctr", "subject": [ref("Patient", pid)]}])
    _follow_up(client, pid, None, pid + "-ctr", 186, 100)  # the team's family doctor requests it
    proposal = _proposals(client, pid)[0]
    assert proposal["requester"] == ref("Practitioner", world.id("fd"))
    assert {"system": DERIVED_BY, "code": "follow-up-proposal"} in proposal["meta"]["tag"]
    tagged = client.get(f"/fhir/ServiceRequest?_tag={DERIVED_BY}|follow-up-proposal&subject=Patient/{pid}").get_json()
    assert [e["resource"]["id"] for e in tagged["entry"]] == [proposal["id"]]
    task = client.get(f"/fhir/Task?focus=ServiceRequest/{proposal['id']}").get_json()["entry"][0]["resource"]
    assert task["meta"]["tag"] == [{"system": DERIVED_BY, "code": "follow-up-proposal"}]
