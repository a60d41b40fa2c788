"""The TestScript asserts of the kit (R4 TestScript.setup.action.assert) on responses and, for
the client suites, on requests; the run's tag; credentials masked."""

from __future__ import annotations

import pytest

from fhir_server.conformance_kit.asserts import AssertionFailed, Observed, check
from fhir_server.conformance_kit.engine import RUN_TAG_SYSTEM, _tagged
from fhir_server.conformance_kit.results import masked

OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "business-rule"}]}


def holds(definition: dict, observed: Observed, validate=lambda body, url: []) -> str:
    return check(definition, observed, lambda text: text.replace("${id}", "c1"), validate, {"p": "https://x/p"})


def test_response_codes_and_resource_types():
    refused = Observed(409, {"Content-Type": "application/fhir+json"}, OUTCOME)
    assert holds({"response": "conflict"}, refused) == "HTTP 409"
    assert holds({"responseCode": "409,422", "operator": "in"}, refused)
    assert holds({"resource": "OperationOutcome"}, refused)
    assert holds({"contentType": "json"}, refused)
    with pytest.raises(AssertionFailed, match="expected HTTP 201 .created., got 409"):
        holds({"response": "created"}, refused)
    with pytest.raises(AssertionFailed, match="expected a Contract, got OperationOutcome"):
        holds({"resource": "Contract"}, refused)


def test_fhirpath_expressions_with_and_without_a_value():
    contract = Observed(200, {}, {"resourceType": "Contract", "id": "c1", "status": "executed"})
    assert holds({"expression": "id = '${id}'"}, contract)
    assert holds({"expression": "status", "value": "executed"}, contract)
    assert holds({"expression": "status", "operator": "notEquals", "value": "cancelled"}, contract)
    with pytest.raises(AssertionFailed, match=r"status = 'cancelled' is \[False\]"):
        holds({"expression": "status = 'cancelled'"}, contract)
    with pytest.raises(AssertionFailed, match="cannot be evaluated"):
        holds({"expression": "status = = 'x'"}, contract)


def test_profiles_are_checked_with_the_given_validator():
    body = Observed(201, {}, {"resourceType": "Contract"})
    assert holds({"validateProfileId": "p"}, body, lambda b, url: []) == "valid against https://x/p"
    with pytest.raises(AssertionFailed, match="not valid against https://x/p: Contract.subject: missing"):
        holds({"validateProfileId": "p"}, body, lambda b, url: ["Contract.subject: missing"])


def test_request_method_url_and_headers():
    request = Observed(None, {"ETag": 'W/"1"'}, None, "POST", "Encounter/$record-service")
    assert holds({"requestMethod": "post"}, request) == "POST"
    assert holds({"requestURL": "Encounter/$record-service"}, request)
    assert holds({"requestURL": "$record-service", "operator": "contains"}, request)
    assert holds({"headerField": "etag"}, request) == 'etag: W/"1"'
    with pytest.raises(AssertionFailed, match="expected a GET request, got POST"):
        holds({"requestMethod": "get"}, request)


def test_what_the_kit_creates_is_tagged_and_credentials_never_shown():
    bundle = _tagged({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}, "r1")
    assert bundle["entry"][0]["resource"]["meta"]["tag"] == [
        {"system": RUN_TAG_SYSTEM, "code": "r1", "display": "Jiayi conformance kit run"}]
    assert _tagged({"resourceType": "Parameters"}, "r1") == {"resourceType": "Parameters"}
    assert masked({"Authorization": "Bearer abc", "Cookie": "s=1", "Accept": "x"}) == {
        "Authorization": "Bearer ********", "Cookie": "********", "Accept": "x"}
