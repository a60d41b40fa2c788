"""Interactions on the in-memory repository twin, with an injected clock and id factory:
predictable ids, versions and timestamps (STYLE habit 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fhir_server.app import create_app
from fhir_server.core.clock import SteppingClock, counting_ids
from fhir_server.repository.memory import MemoryRepository


@pytest.fixture()
def client():
    clock = SteppingClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), timedelta(seconds=1))
    repo = MemoryRepository(clock=clock, ids=counting_ids("p"))
    return create_app({"TESTING": True, "BASE_URL": "http://twin/fhir"}, repository=repo).test_client()


def _patient(**extra) -> dict:
    return {"resourceType": "Patient", "name": [{"text": "李四"}], "gender": "female", **extra}


def test_ids_versions_and_times_are_predictable(client):
    created = client.post("/fhir/Patient", json=_patient())
    assert created.headers["Location"] == "http://twin/fhir/Patient/p1/_history/1"
    assert created.get_json()["meta"]["lastUpdated"] == "2026-03-01T09:00:00.000Z"
    updated = client.put("/fhir/Patient/p1", json=_patient(id="p1", gender="other"))
    assert updated.get_json()["meta"] == {"versionId": "2", "lastUpdated": "2026-03-01T09:00:01.000Z"}


def test_failed_transaction_leaves_nothing(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": _patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _patient(gender="nonsense"), "request": {"method": "POST", "url": "Patient"}},
    ]}
    assert client.post("/fhir", json=bundle).status_code == 400
    assert client.get("/fhir/_history").get_json()["total"] == 0


def test_patch_json_patch_and_fhirpath_patch(client):
    client.post("/fhir/Patient", json=_patient())
    json_patch = [{"op": "replace", "path": "/gender", "value": "male"}]
    first = client.patch("/fhir/Patient/p1", json=json_patch, content_type="application/json-patch+json")
    assert first.status_code == 200 and first.get_json()["gender"] == "male"
    fhirpath_patch = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"},
        {"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1960-01-02"}]}]}
    second = client.patch("/fhir/Patient/p1", json=fhirpath_patch, content_type="application/fhir+json")
    assert second.status_code == 200 and second.get_json()["birthDate"] == "1960-01-02"
    assert second.headers["ETag"] == 'W/"3"'
    invalid = client.patch("/fhir/Patient/p1", json=[{"op": "replace", "path": "/gender", "value": "x"}],
                           content_type="application/json-patch+json")
    assert invalid.status_code == 422


def test_capability_statement_lists_every_r4_type(client):
    from fhir_server.definitions.structures import structures

    statement = client.get("/fhir/metadata").get_json()
    assert statement["fhirVersion"] == "4.0.1"
    types = [r["type"] for r in statement["rest"][0]["resource"]]
    assert types == list(structures().resource_types) and len(types) == 146
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"read", "vread", "patch", "history-instance"} <= {i["code"] for i in patient["interaction"]}
    assert any(p["name"] == "identifier" for p in patient["searchParam"])


def test_xml_in_and_out(client):
    xml = (b'<Patient xmlns="http://hl7.org/fhir"><name><text value="\xe7\x8e\x8b\xe4\xba\x94"/></name>'
           b'<gender value="male"/></Patient>')
    created = client.post("/fhir/Patient?_format=xml", data=xml, content_type="application/fhir+xml")
    assert created.status_code == 201 and created.content_type.startswith("application/fhir+xml")
    assert "王五".encode() in created.data
    as_json = client.get("/fhir/Patient/p1").get_json()
    assert as_json["name"] == [{"text": "王五"}]


def test_summary_and_elements_on_read(client):
    client.post("/fhir/Patient", json=_patient(birthDate="1960-01-02"))
    summary = client.get("/fhir/Patient/p1?_summary=true").get_json()
    assert "birthDate" in summary and summary["meta"]["tag"][0]["code"] == "SUBSETTED"
    elements = client.get("/fhir/Patient/p1?_elements=gender").get_json()
    assert "gender" in elements and "name" not in elements and "birthDate" not in elements
