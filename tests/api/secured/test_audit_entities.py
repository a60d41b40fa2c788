"""Whose record an AuditEvent names (SPEC §6): a read of a resident's resource outside R4's Patient
compartment (search/sql/reach.py OUTSIDE_COMPARTMENT) names the resident like a compartment read;
a client's own AuditEvent (the HL7 v2 adapter's) is recorded once, not again by the server."""

from __future__ import annotations

import pytest
from auth_support import audit_events, principal_headers

DCM = "http://dicom.nema.org/resources/ontology/DCM"


def _outside(kind: str, patient: str) -> dict:
    ref = {"reference": f"Patient/{patient}"}
    return {
        "Device": {"resourceType": "Device", "patient": ref,
                   "deviceName": [{"name": "血压计", "type": "user-friendly-name"}]},
        "GuidanceResponse": {"resourceType": "GuidanceResponse", "status": "success",
                             "moduleUri": "https://jiayi.dev/fhir/PlanDefinition/x", "subject": ref},
        "Linkage": {"resourceType": "Linkage", "item": [{"type": "source", "resource": ref},
                                                         {"type": "alternate", "resource": ref}]},
        "MessageHeader": {"resourceType": "MessageHeader", "eventCoding": {"system": "urn:x", "code": "A04"},
                          "source": {"endpoint": "urn:his"}, "focus": [ref]},
        "VerificationResult": {"resourceType": "VerificationResult", "status": "attested", "target": [ref]},
    }[kind]


@pytest.mark.parametrize("kind", ["Device", "GuidanceResponse", "Linkage", "MessageHeader", "VerificationResult"])
def test_a_read_outside_the_compartment_names_the_resident(app, issuer, world, kind):
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    created = client.post(f"/fhir/{kind}", json=_outside(kind, world.head), headers=admin)
    assert created.status_code == 201, created.get_json()
    reference = f"{kind}/{created.get_json()['id']}"
    doctor = principal_headers(issuer, world)
    assert client.get(f"/fhir/{reference}", headers=doctor).status_code == 200
    assert client.get(f"/fhir/{reference}/_history/1", headers=doctor).status_code == 200
    assert client.get(f"/fhir/{reference}/_history", headers=doctor).status_code == 200
    assert client.get(f"/fhir/{kind}?_id={reference.split('/')[1]}", headers=doctor).status_code == 200
    app.extensions["jiayi.audit"].flush()
    events = audit_events(client, issuer, f"entity={reference}&agent=Practitioner/{world.doctor}")
    assert sorted(e["subtype"][0]["code"] for e in events) == ["history-instance", "read", "search-type", "vread"]
    for event in events:
        whats = [x.get("what", {}).get("reference") for x in event["entity"]]
        assert f"Patient/{world.head}" in whats, (event["subtype"], whats)
    assert len(audit_events(client, issuer, f"patient=Patient/{world.head}&entity={reference}"
                       f"&agent=Practitioner/{world.doctor}")) == 4


def test_a_contract_read_names_its_residents(app, issuer, world):
    client = app.test_client()
    doctor = principal_headers(issuer, world)
    bundle = client.get(f"/fhir/Contract?patient=Patient/{world.child}", headers=doctor).get_json()
    contract = bundle["entry"][0]["resource"]["id"]
    assert client.get(f"/fhir/Contract/{contract}", headers=doctor).status_code == 200
    app.extensions["jiayi.audit"].flush()
    [event] = audit_events(client, issuer, f"entity=Contract/{contract}&subtype=read&agent=Practitioner/{world.doctor}")
    whats = {x.get("what", {}).get("reference") for x in event["entity"]}
    assert {f"Patient/{p}" for p in (world.head, world.spouse, world.child)} <= whats


def test_a_refused_read_outside_the_compartment_names_the_resident(app, issuer, world):
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    created = client.post("/fhir/Device", json=_outside("Device", world.b1), headers=admin).get_json()
    doctor = principal_headers(issuer, world)
    assert client.get(f"/fhir/Device/{created['id']}", headers=doctor).status_code in (403, 404)
    app.extensions["jiayi.audit"].flush()
    [event] = audit_events(client, issuer, f"entity=Device/{created['id']}&agent=Practitioner/{world.doctor}")
    assert event["outcome"] == "8"
    assert f"Patient/{world.b1}" in [x.get("what", {}).get("reference") for x in event["entity"]]


def test_a_clients_audit_event_is_recorded_once(app, issuer, world, unique):
    """The HL7 v2 adapter posts its message's AuditEvent; the server records no second event of that
    create, so the message is listed once (the console's integration monitor, any AuditEvent search)."""
    client = app.test_client()
    event = {"resourceType": "AuditEvent", "type": {"system": DCM, "code": "110107"},
             "recorded": "2026-12-07T08:00:00Z", "outcome": "0",
             "agent": [{"requestor": True, "who": {"display": "HIS"}}], "source": {"observer": {"display": "v2"}},
             "entity": [{"what": {"identifier": {"system": "urn:msh-10", "value": f"m-{unique}"}}},
                        {"what": {"reference": f"Patient/{world.head}"}}]}
    created = client.post("/fhir/AuditEvent", json=event, headers=issuer.headers("system/*.cruds"))
    assert created.status_code == 201
    app.extensions["jiayi.audit"].flush()
    assert audit_events(client, issuer, f"entity=AuditEvent/{created.get_json()['id']}") == []
    recent = audit_events(client, issuer, f"patient=Patient/{world.head}&date=ge2026-12-07T07:59:00Z"
                                     f"&date=le2026-12-07T08:01:00Z")
    assert [e["id"] for e in recent] == [created.get_json()["id"]]
    refusals = len(audit_events(client, issuer, "outcome=8&subtype=create"))
    refused = client.post("/fhir/AuditEvent", json=event, headers=issuer.headers("system/Patient.cruds"))
    assert refused.status_code == 403
    app.extensions["jiayi.audit"].flush()
    assert len(audit_events(client, issuer, "outcome=8&subtype=create")) == refusals + 1  # a refusal still is
