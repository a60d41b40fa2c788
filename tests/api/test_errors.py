"""Bad input (SPEC §6): each a 4xx OperationOutcome with the right issue code, nothing written,
and the server keeps serving."""

from __future__ import annotations

import pytest
from api.conftest import patient


def _issue(response) -> dict:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def _count_patients(client, unique) -> int:
    bundle = client.get(f"/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.2|{unique}&_total=accurate").get_json()
    return bundle.get("total", len(bundle.get("entry", [])))


@pytest.mark.parametrize("body, content_type, code", [
    (b'{"resourceType": "Patient",', "application/fhir+json", "structure"),
    (b'{"resourceType": "Patient", "name": [{"text": "\xff\xfe"}]}', "application/fhir+json", "structure"),
    (b"<Patient xmlns='http://hl7.org/fhir'><gender value='male'/>", "application/fhir+xml", "structure"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><Patient xmlns="http://hl7.org/fhir">'
     b'<gender value="&e;"/></Patient>', "application/fhir+xml", None),
    (b"[1, 2]", "application/fhir+json", "structure"),
    (b"name=x", "text/plain", "not-supported"),
])
def test_malformed_bodies(client, body, content_type, code):
    response = client.post("/fhir/Patient", data=body, content_type=content_type)
    assert 400 <= response.status_code < 500
    issue = _issue(response)
    if code:
        assert issue["code"] == code
    assert client.get("/fhir/metadata").status_code == 200


def test_wrong_resource_type_for_url(client, unique):
    response = client.post("/fhir/Observation", json=patient(unique))
    assert response.status_code == 400 and _issue(response)["code"] == "invalid"
    assert _count_patients(client, unique) == 0


def test_invalid_date_and_code_name_the_element(client, unique):
    response = client.post("/fhir/Patient", json=patient(unique, birthDate="2023-02-30", gender="man"))
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    expressions = {e for issue in issues for e in issue.get("expression", [])}
    assert "Patient.birthDate" in expressions and "Patient.gender" in expressions
    assert _count_patients(client, unique) == 0


def test_unknown_element(client, unique):
    response = client.post("/fhir/Patient", json=patient(unique, colour="blue"))
    assert response.status_code == 400 and _issue(response)["code"] == "structure"


def test_too_deep(client):
    deep: dict = {"resourceType": "Basic", "code": {"text": "x"}}
    node = deep
    for _ in range(200):
        node["extension"] = [{"url": "http://example.org/x"}]
        node = node["extension"][0]
    response = client.post("/fhir/Basic", json=deep)
    assert response.status_code == 400 and _issue(response)["code"] == "too-costly"


def test_body_too_large(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = patient("big", text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">"
                                + "x" * (limit + 10) + "</div>"})
    response = client.post("/fhir/Patient", json=big)
    assert response.status_code == 413 and _issue(response)["code"] == "too-costly"


def test_unexpected_exception_is_500_without_trace(app, client, monkeypatch):
    from fhir_server.interactions import read

    def boom(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(read, "current_or_raise", boom)
    response = client.get("/fhir/Patient/anything")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internal detail" not in text and "Traceback" not in text
    assert _issue(response)["code"] == "exception"


def test_method_not_allowed(client):
    response = client.delete("/fhir/Patient/x/_history/1")
    assert response.status_code == 405
