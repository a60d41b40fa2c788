"""Base R4 invariants hold on every write, not only for resources claiming a Jiayi profile
(issue 16 §4): create, update, transaction entries answer 400 (base R4, docs/decisions.md
"Validation status codes"); warnings never refuse.  SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from fhir_server.app import create_app


@pytest.fixture(scope="module")
def client(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir"})
    yield app.test_client()
    app.extensions["jiayi.database"].dispose()


def _patient(family: str, **extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family}], **extra}


def test_create_breaking_an_invariant_is_400_and_nothing_is_written(client):
    family = "I" + uuid.uuid4().hex[:10]
    response = client.post("/fhir/Patient", json=_patient(family, contact=[{"gender": "male"}]))
    assert response.status_code == 400
    issue = response.get_json()["issue"][0]
    assert issue["code"] == "invariant" and "pat-1" in issue["diagnostics"]
    assert issue["expression"] == ["Patient.contact[0]"]
    assert client.get(f"/fhir/Patient?family={family}&_summary=count").get_json()["total"] == 0


def test_observation_with_a_value_and_a_data_absent_reason_is_refused(client):
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "收缩压"},
                   "valueQuantity": {"value": 130, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                                     "code": "mm[Hg]"},
                   "dataAbsentReason": {"text": "测不到"}}
    response = client.post("/fhir/Observation", json=observation)
    assert response.status_code == 400
    assert any("obs-6" in i["diagnostics"] for i in response.get_json()["issue"])
    del observation["dataAbsentReason"]
    assert client.post("/fhir/Observation", json=observation).status_code == 201


def test_update_and_transaction_entries_are_checked_too(client):
    created = client.post("/fhir/Patient", json=_patient("U" + uuid.uuid4().hex[:8]))
    pid = created.get_json()["id"]
    broken = {**created.get_json(), "contact": [{"gender": "female"}]}
    assert client.put(f"/fhir/Patient/{pid}", json=broken).status_code == 400
    quantity = {"resourceType": "Observation", "status": "final", "code": {"text": "体重"},
                "valueQuantity": {"value": 60, "code": "kg"}}  # qty-3: a code needs its system
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": quantity, "request": {"method": "POST", "url": "Observation"}}]}
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 400
    assert any("qty-3" in i["diagnostics"] for i in response.get_json()["issue"])


def test_warning_invariants_do_not_refuse(client):
    # dom-6 (a resource should have narrative) is a warning: no text here, still created
    assert client.post("/fhir/Patient", json=_patient("W" + uuid.uuid4().hex[:8])).status_code == 201
