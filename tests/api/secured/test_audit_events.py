"""AuditEvents (SPEC §6): reads (batched), writes (in the write's transaction) and refusals,
with the BALP content, searchable by patient, agent, entity, date and type, and unchangeable."""

from __future__ import annotations

import base64

from auth_support import SECURED_BASE, audit_events, principal_headers

BASE = SECURED_BASE


def test_a_read_is_audited_with_who_what_where(app, issuer, world):
    client = app.test_client()
    assert client.get(f"/fhir/Patient/{world.spouse}", headers=principal_headers(issuer, world),
                      environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    app.extensions["jiayi.audit"].flush()
    events = audit_events(client, issuer, f"patient=Patient/{world.spouse}&subtype=read"
                                     f"&agent=Practitioner/{world.doctor}")
    assert len(events) == 1
    event = events[0]
    assert event["type"]["code"] == "rest" and event["action"] == "R" and event["outcome"] == "0"
    assert event["agent"][0]["network"]["address"] == "10.1.2.3"
    assert event["agent"][1]["who"]["identifier"]["value"] == "test-client"
    date = event["recorded"][:10]
    assert audit_events(client, issuer, f"entity=Patient/{world.spouse}&date={date}&type=rest")


def test_a_write_is_audited_in_its_own_transaction(app, issuer, world):
    client = app.test_client()
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "体温"},
                   "subject": {"reference": f"Patient/{world.head}"}}
    created = client.post("/fhir/Observation", json=observation, headers=principal_headers(issuer, world)).get_json()
    events = audit_events(client, issuer, f"entity=Observation/{created['id']}")  # no flush: written with it
    assert [e["action"] for e in events] == ["C"]
    assert {"reference": f"Patient/{world.head}"} in [e["what"] for e in events[0]["entity"]]


def test_a_search_and_a_refusal_are_audited(app, issuer, world):
    client = app.test_client()
    client.get(f"/fhir/Observation?subject=Patient/{world.child}", headers=principal_headers(issuer, world))
    assert client.get(f"/fhir/Patient/{world.b1}", headers=principal_headers(issuer, world)).status_code == 403
    app.extensions["jiayi.audit"].flush()
    searches = audit_events(client, issuer, f"patient=Patient/{world.child}&subtype=search-type"
                                       f"&agent=Practitioner/{world.doctor}")
    assert searches and searches[0]["action"] == "E"
    query = next(e["query"] for e in searches[0]["entity"] if "query" in e)
    assert world.child in base64.b64decode(query).decode()
    refused = audit_events(client, issuer, f"entity=Patient/{world.b1}&agent=Practitioner/{world.doctor}")
    assert [e["outcome"] for e in refused] == ["8"]


def test_audit_events_cannot_be_changed_or_deleted(app, issuer, world):
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    client.get(f"/fhir/Patient/{world.head}", headers=principal_headers(issuer, world))
    app.extensions["jiayi.audit"].flush()
    event = audit_events(client, issuer, f"agent=Practitioner/{world.doctor}")[0]
    event["outcomeDesc"] = "edited afterwards"
    assert client.put(f"/fhir/AuditEvent/{event['id']}", json=event, headers=admin).status_code == 405
    assert client.delete(f"/fhir/AuditEvent/{event['id']}", headers=admin).status_code == 405
    assert client.delete(f"/fhir/AuditEvent?_id={event['id']}", headers=admin).status_code == 405


def test_a_client_may_record_an_audit_event_once(app, issuer, world, unique):
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    event = {"resourceType": "AuditEvent", "id": f"ae-{unique}", "type": {"code": "rest"},
             "recorded": "2026-12-01T08:00:00Z", "agent": [{"requestor": True, "who": {"display": "HIS"}}],
             "source": {"observer": {"display": "HIS"}}}
    assert client.put(f"/fhir/AuditEvent/ae-{unique}", json=event, headers=admin).status_code == 201
    assert client.put(f"/fhir/AuditEvent/ae-{unique}", json=event, headers=admin).status_code == 200  # resent
    changed = {**event, "recorded": "2026-12-01T09:00:00Z"}
    assert client.put(f"/fhir/AuditEvent/ae-{unique}", json=changed, headers=admin).status_code == 405
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": event, "request": {"method": "PUT", "url": f"AuditEvent?_id=ae-{unique}"}}]}
    assert client.post("/fhir", json=bundle, headers=admin).status_code == 405


def test_a_request_without_a_valid_token_is_audited_with_its_address_and_reason(app, issuer, world):
    from auth_support import stranger_token

    client = app.test_client()
    assert client.get(f"/fhir/Patient/{world.child}", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 401
    forged = {"Authorization": f"Bearer {stranger_token(BASE)}"}
    assert client.get(f"/fhir/Observation?subject=Patient/{world.child}", headers=forged,
                      environ_base={"REMOTE_ADDR": "10.9.8.6"}).status_code == 401
    assert client.get("/fhir/metadata", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200  # open
    app.extensions["jiayi.audit"].flush()
    missing = audit_events(client, issuer, f"patient=Patient/{world.child}&address=10.9.8.7")
    assert len(missing) == 1
    event = missing[0]
    assert event["outcome"] == "8" and event["subtype"][0]["code"] == "read" and event["action"] == "R"
    assert "who" not in event["agent"][0] and event["agent"][0]["network"]["address"] == "10.9.8.7"
    assert "Bearer" in event["outcomeDesc"]
    bad = audit_events(client, issuer, "address=10.9.8.6&outcome=8")
    assert [e["subtype"][0]["code"] for e in bad] == ["search-type"]
    assert "not valid" in bad[0]["outcomeDesc"] or "unknown key" in bad[0]["outcomeDesc"]


def test_a_refusal_is_audited_whatever_it_was_for(app, issuer, world, unique):
    client = app.test_client()
    narrow = issuer.headers("system/Observation.rs")
    assert client.get(f"/fhir/Organization/o-{unique}", headers=narrow).status_code == 403
    app.extensions["jiayi.audit"].flush()
    refused = audit_events(client, issuer, f"entity=Organization/o-{unique}")
    assert [(e["outcome"], e["action"]) for e in refused] == [("8", "R")]
    assert "scope" in refused[0]["outcomeDesc"]


def test_a_contract_search_is_audited_like_a_search_of_a_residents_record(app, issuer, world):
    """Contract is outside R4's Patient compartment but holds a resident's data (reach.OUTSIDE_COMPARTMENT):
    a search of it is audited even when it finds nothing."""
    client = app.test_client()
    query = f"agent=Practitioner/{world.doctor}&subtype=search-type"
    app.extensions["jiayi.audit"].flush()
    before = len(audit_events(client, issuer, query))
    doctor = principal_headers(issuer, world)
    assert client.get("/fhir/Contract?identifier=urn:none|nothing", headers=doctor).status_code == 200
    app.extensions["jiayi.audit"].flush()
    assert len(audit_events(client, issuer, query)) == before + 1
