"""A Binary follows its securityContext (SPEC §6; R4 has no search parameter for it, the IG adds
``security-context``): visible to whoever may see that resource; without one, to no limited grant."""

from __future__ import annotations

import pytest

DATA = "5L2T5qOA5oql5ZGK"  # base64 of "体检报告"


def _binary(context: str | None) -> dict:
    binary = {"resourceType": "Binary", "contentType": "text/plain", "data": DATA}
    if context:
        binary["securityContext"] = {"reference": context}
    return binary


@pytest.fixture(scope="module")
def binaries(app, issuer, world):
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    observation = client.get(f"/fhir/Observation?subject=Patient/{world.b1}&_count=1",
                             headers=admin).get_json()["entry"][0]["resource"]["id"]
    contexts = {"head": f"Patient/{world.head}", "b1's observation": f"Observation/{observation}",
                "none": None, "district": f"Organization/{world.district}"}
    made = {}
    for name, context in contexts.items():
        response = client.post("/fhir/Binary", json=_binary(context), headers=admin)
        assert response.status_code == 201, response.get_json()
        made[name] = response.get_json()["id"]
    return made


def _as(issuer, world, who: str) -> dict:
    scope, claims = world.principals()[who]
    return issuer.headers(scope, **claims)


@pytest.mark.parametrize(("who", "sees"), [
    ("doctor A", {"head", "district"}),
    ("doctor B", {"b1's observation", "district"}),
    ("resident", {"head", "district"}),
    ("guardian", {"district"}),
    ("system", {"head", "b1's observation", "none", "district"}),
])
def test_a_binary_is_seen_by_who_may_see_its_security_context(app, issuer, world, binaries, who, sees):
    client = app.test_client()
    headers = _as(issuer, world, who)
    readable = {name for name, bid in binaries.items()
                if client.get(f"/fhir/Binary/{bid}", headers=headers).status_code == 200}
    assert readable == sees
    ids = ",".join(binaries.values())
    found = client.get(f"/fhir/Binary?_id={ids}&_count=2", headers=headers).get_json()
    assert found["total"] == len(sees)  # counted in SQL, paged over the visible ones only
    names = {bid: name for name, bid in binaries.items()}
    listed = {names[e["resource"]["id"]] for e in found.get("entry", [])}
    assert listed <= sees and len(listed) == min(2, len(sees))


def test_binaries_are_searchable_by_security_context(app, issuer, world, binaries):
    client = app.test_client()
    bundle = client.get(f"/fhir/Binary?security-context=Patient/{world.head}",
                        headers=issuer.headers("system/*.rs")).get_json()
    assert binaries["head"] in [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_a_limited_writer_must_name_whose_binary_it_is(app, issuer, world):
    client = app.test_client()
    doctor = _as(issuer, world, "doctor A")
    assert client.post("/fhir/Binary", json=_binary(None), headers=doctor).status_code == 403
    assert client.post("/fhir/Binary", json=_binary(f"Patient/{world.b1}"), headers=doctor).status_code == 403
    assert client.post("/fhir/Binary", json=_binary(f"Patient/{world.spouse}"), headers=doctor).status_code == 201


@pytest.fixture(scope="module")
def documents(app, issuer, world):
    """Binaries whose securityContext is a resident's resource other than their Patient: the
    household Contract of team A (head, spouse, child) and a DocumentReference about b1."""
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    contract = client.get(f"/fhir/Contract?patient=Patient/{world.head}&_count=1",
                          headers=admin).get_json()["entry"][0]["resource"]["id"]
    document = client.post("/fhir/DocumentReference", headers=admin, json={
        "resourceType": "DocumentReference", "status": "current", "subject": {"reference": f"Patient/{world.b1}"},
        "content": [{"attachment": {"contentType": "text/plain", "title": "体检报告"}}]})
    assert document.status_code == 201, document.get_json()
    made = {}
    for name, context in {"household contract": f"Contract/{contract}",
                          "b1's document": f"DocumentReference/{document.get_json()['id']}"}.items():
        response = client.post("/fhir/Binary", json=_binary(context), headers=admin)
        assert response.status_code == 201, response.get_json()
        made[name] = response.get_json()["id"]
    return made


@pytest.mark.parametrize(("who", "sees"), [
    ("doctor A", {"household contract"}),
    ("doctor B", {"b1's document"}),
    ("resident", {"household contract"}),
    ("guardian", {"household contract"}),  # the child is a signer of the household contract
    ("system", {"household contract", "b1's document"}),
])
def test_a_binary_of_a_residents_resource_follows_that_resource(app, issuer, world, documents, who, sees):
    client = app.test_client()
    headers = _as(issuer, world, who)
    readable = {name for name, bid in documents.items()
                if client.get(f"/fhir/Binary/{bid}", headers=headers).status_code == 200}
    assert readable == sees


def test_the_audit_event_of_a_binary_names_the_resident_of_its_security_context(app, issuer, world, documents):
    from auth_support import audit_events

    client = app.test_client()
    doctor = _as(issuer, world, "doctor A")
    contract_binary, document_binary = documents["household contract"], documents["b1's document"]
    assert client.get(f"/fhir/Binary/{contract_binary}", headers=doctor).status_code == 200
    assert client.get(f"/fhir/Binary/{document_binary}", headers=doctor).status_code in (403, 404)
    assert client.get(f"/fhir/Binary?_id={contract_binary}", headers=doctor).status_code == 200
    app.extensions["jiayi.audit"].flush()
    read, search = (audit_events(client, issuer, f"entity=Binary/{contract_binary}&subtype={kind}"
                                                 f"&agent=Practitioner/{world.doctor}")
                    for kind in ("read", "search-type"))
    assert read and search
    for event in read + search:  # (the module's other tests read these Binaries too)
        whats = {x.get("what", {}).get("reference") for x in event["entity"]}
        assert {f"Patient/{p}" for p in (world.head, world.spouse, world.child)} <= whats
    refused = [e for e in audit_events(client, issuer, f"entity=Binary/{document_binary}"
                                                       f"&agent=Practitioner/{world.doctor}") if e["outcome"] == "8"]
    assert refused
    for event in refused:
        assert f"Patient/{world.b1}" in {x.get("what", {}).get("reference") for x in event["entity"]}
    assert audit_events(client, issuer, f"patient=Patient/{world.b1}&entity=Binary/{document_binary}")
