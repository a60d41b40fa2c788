"""Bundle rules on write (issue 16 §4): a stored Bundle (PUT/POST Bundle) and a batch or
transaction request are refused (400, nothing written) when their fullUrls or links break R4,
and a transaction in its legitimate request shapes is still accepted; ``$validate`` reports the
same rules.  SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from fhir_server.app import create_app


@pytest.fixture(scope="module")
def client(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir"})
    yield app.test_client()
    app.extensions["jiayi.database"].dispose()


def _family() -> str:
    return "B" + uuid.uuid4().hex[:10]


def _patient(family: str, **extra) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family}], **extra}


def _count(client, family: str) -> int:
    return client.get(f"/fhir/Patient?family={family}&_summary=count").get_json()["total"]


def test_stored_collection_with_a_relative_full_url_is_refused(client):
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "Patient/p1", "resource": _patient("x", id="p1")}]}
    response = client.put("/fhir/Bundle/b-rel", json={**bundle, "id": "b-rel"})
    assert response.status_code == 400
    assert any("Bundle.entry[0].fullUrl" in i.get("expression", []) for i in response.get_json()["issue"])
    assert client.get("/fhir/Bundle/b-rel").status_code == 404
    bundle["entry"][0]["fullUrl"] = "http://example.org/fhir/Patient/p1"
    assert client.put("/fhir/Bundle/b-rel", json={**bundle, "id": "b-rel"}).status_code == 201


def test_transaction_with_a_relative_full_url_writes_nothing(client):
    family = _family()
    body = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "Patient/new", "resource": _patient(family), "request": {"method": "POST", "url": "Patient"}}]}
    assert client.post("/fhir", json=body).status_code == 400
    assert _count(client, family) == 0


def test_batch_with_a_repeated_link_relation_is_refused(client):
    body = {"resourceType": "Bundle", "type": "batch", "link": [
        {"relation": "self", "url": "http://a.cn/1"}, {"relation": "self", "url": "http://a.cn/2"}],
        "entry": [{"request": {"method": "GET", "url": "Patient?_count=1"}}]}
    assert client.post("/fhir", json=body).status_code == 400


def test_transaction_request_shapes_are_accepted(client):
    family = _family()
    placeholder = f"urn:uuid:{uuid.uuid4()}"
    body = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": placeholder, "resource": _patient(family), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _patient(family), "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}",
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "血压"},
                      "subject": {"reference": placeholder}},
         "request": {"method": "POST", "url": "Observation"}}]}
    response = client.post("/fhir", json=body)
    assert response.status_code == 200, response.get_json()
    assert _count(client, family) == 2


def test_validate_reports_bundle_rules(client):
    document = {"resourceType": "Bundle", "type": "document", "timestamp": "2024-05-01T10:00:00+08:00",
                "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
                "entry": [{"fullUrl": "http://example.org/fhir/Composition/c1", "resource": {
                    "resourceType": "Composition", "id": "c1", "status": "final", "type": {"text": "summary"},
                    "subject": {"reference": "Patient/missing"}, "date": "2024-05-01",
                    "author": [{"display": "王医生"}], "title": "Summary"}}]}
    response = client.post("/fhir/Bundle/$validate", json=document)
    assert response.status_code == 200
    issues = response.get_json()["issue"]
    assert any(i["severity"] == "error" and i.get("expression") == ["Bundle.entry[0].resource.subject"]
               for i in issues), issues
