"""Transaction entries the transaction writes itself (creates with a preassigned id, conditional
creates that match, conditional updates it matched beforehand) are checked and audited like the
same requests on their own (docs/testing.md, fifth pass)."""

from __future__ import annotations

import uuid

import pytest
from auth_support import audit_events, principal_headers

OID = "urn:oid:2.16.156.10011.1.2"


def _patient(number: str, **extra) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": OID, "value": number}], "gender": "male", **extra}


def _entries(number: str, kind: str) -> list[dict]:
    criteria = f"identifier={OID}|{number}"
    return {
        "create": [{"resource": _patient(number), "request": {"method": "POST", "url": "Patient"}}],
        "conditional create": [{"resource": _patient(number),
                                "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}}],
        "conditional update": [{"resource": _patient(number, gender="female"),
                                "request": {"method": "PUT", "url": f"Patient?{criteria}"}}],
    }[kind]


def _post(client, entries: list[dict], headers: dict):
    return client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                       headers=headers)


@pytest.mark.parametrize("kind", ["create", "conditional create", "conditional update"])
def test_an_entry_the_transaction_writes_is_checked_and_audited(app, issuer, kind):
    client = app.test_client()
    number = uuid.uuid4().hex[:12]
    admin = issuer.headers("system/*.cruds")
    if kind != "create":  # an existing resource for the condition to match
        assert client.post("/fhir/Patient", json=_patient(number), headers=admin).status_code == 201
    narrow = issuer.headers("system/Observation.cruds")
    refused = _post(client, _entries(number, kind), narrow)
    assert refused.status_code == 403, refused.get_json()
    response = _post(client, _entries(number, kind), admin)
    assert response.status_code == 200, response.get_json()
    pid = response.get_json()["entry"][0]["fullUrl"].split("/Patient/")[1]
    events = audit_events(client, issuer, f"entity=Patient/{pid}&outcome=0")
    assert events, kind


@pytest.mark.parametrize("kind", ["create", "conditional create", "conditional update"])
def test_a_type_scope_reaches_the_entries_the_transaction_writes(app, issuer, kind):
    client = app.test_client()
    number = uuid.uuid4().hex[:12]
    patients = issuer.headers("system/Patient.cruds")
    if kind != "create":
        assert client.post("/fhir/Patient", json=_patient(number), headers=patients).status_code == 201
    response = _post(client, _entries(number, kind), patients)
    assert response.status_code == 200, response.get_json()


def _observations(number: str, pid: str, kind: str) -> list[dict]:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "体温"},
                   "identifier": [{"system": "urn:oid:1.2.156.112604.7", "value": number}],
                   "subject": {"reference": f"Patient/{pid}"}}
    criteria = f"identifier=urn:oid:1.2.156.112604.7|{number}"
    request = {"create": {"method": "POST", "url": "Observation"},
               "conditional create": {"method": "POST", "url": "Observation", "ifNoneExist": criteria},
               "conditional update": {"method": "PUT", "url": f"Observation?{criteria}"}}[kind]
    return [{"resource": observation, "request": request}]


@pytest.mark.parametrize("kind", ["create", "conditional create", "conditional update"])
def test_a_doctor_writes_in_a_transaction_only_what_they_may_see(app, issuer, world, kind):
    """A user grant is limited: what the entry writes must be within the doctor's residents."""
    client = app.test_client()
    doctor = principal_headers(issuer, world)
    admin = issuer.headers("system/*.cruds")
    for pid, status in ((world.head, 200), (world.b1, 403)):
        number = uuid.uuid4().hex[:12]
        if kind != "create":
            existing = _observations(number, pid, "create")[0]["resource"]
            assert client.post("/fhir/Observation", json=existing, headers=admin).status_code == 201
        response = _post(client, _observations(number, pid, kind), doctor)
        assert response.status_code == status, (kind, pid, response.get_json())
