"""Transaction entries the transaction writes itself (creates with a preassigned id, conditional
creates that match, conditional updates it matched beforehand) are checked and audited like the
same requests on their own (docs/testing.md, fifth pass)."""

from __future__ import annotations

import uuid

import pytest
from auth_support import audit_events

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
