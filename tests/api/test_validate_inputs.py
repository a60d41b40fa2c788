"""``$validate`` of a Parameters resource and bodies that start with a UTF-8 byte-order mark
(issue 16 §4), through the HTTP API on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from fhir_server.app import create_app

BOM = b"\xef\xbb\xbf"
INNER = {"resourceType": "Parameters", "parameter": [{"name": "count", "valueInteger": 3}]}


@pytest.fixture(scope="module")
def client(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir"})
    yield app.test_client()
    app.extensions["jiayi.database"].dispose()


def _errors(response) -> list[str]:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return [i["diagnostics"] for i in body["issue"] if i["severity"] in ("error", "fatal")]


def test_a_parameters_resource_posted_as_the_body_is_validated(client):
    response = client.post("/fhir/Parameters/$validate", json=INNER)
    assert response.status_code == 200, response.get_json()
    assert _errors(response) == []


def test_a_broken_parameters_body_is_reported_not_refused(client):
    broken = {"resourceType": "Parameters", "parameter": [{"name": "count", "valueInteger": "three"}]}
    response = client.post("/fhir/Parameters/$validate", json=broken)
    assert response.status_code == 200
    assert _errors(response)


def test_parameters_inside_the_resource_parameter(client):
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": INNER},
                                                           {"name": "mode", "valueCode": "create"}]}
    response = client.post("/fhir/Parameters/$validate", json=wrapped)
    assert response.status_code == 200 and _errors(response) == []


def test_mode_in_the_url_with_a_parameters_body(client):
    response = client.post("/fhir/Parameters/$validate?mode=update", json=INNER)
    assert response.status_code == 200
    assert any("needs the resource id" in e for e in _errors(response))


def test_operation_parameters_without_a_resource_still_need_one(client):
    only_mode = {"resourceType": "Parameters", "parameter": [{"name": "mode", "valueCode": "create"}]}
    assert client.post("/fhir/Patient/$validate", json=only_mode).status_code == 400


@pytest.mark.parametrize("content_type", ["application/fhir+json", None])
def test_json_body_with_a_byte_order_mark(client, content_type):
    data = BOM + b'{"resourceType": "Patient", "active": true}'
    response = client.post("/fhir/Patient/$validate", data=data, content_type=content_type)
    assert response.status_code == 200, response.get_json()
    assert _errors(response) == []


@pytest.mark.parametrize("content_type", ["application/fhir+xml", None])
def test_xml_body_with_a_byte_order_mark(client, content_type):
    data = BOM + b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>'
    response = client.post("/fhir/Patient/$validate", data=data, content_type=content_type)
    assert response.status_code == 200, response.get_json()
    assert _errors(response) == []


def test_create_with_a_byte_order_mark(client):
    data = BOM + b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>'
    response = client.post("/fhir/Patient", data=data, content_type="application/fhir+xml")
    assert response.status_code == 201, response.get_json()
