"""The adapters' FHIR client: retries of transient answers (and only those), bearer tokens,
OAuth2 client credentials, POST _search, bundle posting; over a scripted transport."""

from __future__ import annotations

import json

import pytest
import requests
from adapter_transport import scripted_fhir_client

from adapters.fhir_client import (
    AuthError,
    BearerToken,
    ClientCredentials,
    ServerRefused,
    ServerUnavailable,
    auth_from_options,
)

BASE = "http://fhir.test/fhir"
BUSY = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "conflict",
     "diagnostics": "The database is busy with a concurrent write; retry the request"}]}
VERSION_CLASH = {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "conflict", "diagnostics": "version 2 is not the current version 3"}]}
BUNDLE = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}


def client(answers: list, **options):
    return scripted_fhir_client(answers, BASE, **options)


@pytest.mark.parametrize("transient", [(409, BUSY), (429, {}), (502, None), (503, {}), (504, None),
                                       requests.ConnectionError("refused")],
                         ids=["409-busy", "429", "502", "503", "504", "no-connection"])
def test_a_transient_answer_is_retried_with_backoff(transient):
    fhir, script, sleeps = client([transient, transient, (200, BUNDLE)], backoff=0.5)
    assert fhir.transaction({"resourceType": "Bundle", "type": "transaction"}) == BUNDLE
    assert len(script.requests) == 3 and sleeps == [0.5, 1.0]


def test_a_transient_answer_that_lasts_is_unavailable():
    fhir, script, _ = client([(409, BUSY)] * 3, retries=2)
    with pytest.raises(ServerUnavailable):
        fhir.transaction({"resourceType": "Bundle"})
    assert len(script.requests) == 3


def test_a_real_conflict_and_other_refusals_are_not_retried():
    fhir, script, _ = client([(409, VERSION_CLASH)])
    with pytest.raises(ServerRefused) as caught:
        fhir.transaction({"resourceType": "Bundle"})
    assert caught.value.status == 409 and len(script.requests) == 1
    fhir, script, _ = client([(500, None)])
    with pytest.raises(ServerUnavailable):
        fhir.get("Patient/1")
    assert len(script.requests) == 1


def test_post_bundle_returns_refusals_and_posts_with_prefer():
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]}
    fhir, script, _ = client([(422, outcome)])
    assert fhir.post_bundle({"resourceType": "Bundle"}, prefer="return=minimal") == (422, outcome)
    assert script.requests[0].headers["Prefer"] == "return=minimal"
    assert script.requests[0].url == BASE


def test_search_posts_the_values_in_a_form_body_and_follows_next_links():
    page1 = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "1"},
                                                  "search": {"mode": "match"}}],
             "link": [{"relation": "next", "url": f"{BASE}?_page=abc"}]}
    page2 = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "2"}}]}
    fhir, script, _ = client([(200, page1), (200, page2)])
    query = "Patient?identifier=urn%3Aoid%3A2.16.156.10011.1.3%7C11010519491231002X"
    assert [p["id"] for p in fhir.search(query)] == ["1", "2"]
    first = script.requests[0]
    assert first.method == "POST" and first.url == f"{BASE}/Patient/_search"
    assert "11010519491231002X" not in first.url
    assert first.body == "identifier=urn%3Aoid%3A2.16.156.10011.1.3%7C11010519491231002X"
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_bearer_token_is_sent():
    fhir, script, _ = client([(200, {})], auth=BearerToken("abc"))
    fhir.get("metadata")
    assert script.requests[0].headers["Authorization"] == "Bearer abc"


def test_client_credentials_fetch_cache_and_refresh_on_401(monkeypatch):
    calls = []

    def token_post(url, data, auth, headers, timeout):
        calls.append((url, data, auth))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"access_token": f"t{len(calls)}", "expires_in": 300}).encode()
        return response

    monkeypatch.setattr("adapters.fhir_client.requests.post", token_post)
    credentials = ClientCredentials("https://idp.test/token", "jiayi-import", "s3cret", scope="system/*.cruds")
    fhir, script, _ = client([(200, {}), (200, {}), (401, {}), (200, {})], auth=credentials)
    fhir.get("metadata")
    fhir.get("metadata")
    fhir.get("Patient/1")  # 401: a new token, once
    assert [r.headers["Authorization"] for r in script.requests] == ["Bearer t1", "Bearer t1", "Bearer t1",
                                                                     "Bearer t2"]
    assert calls[0] == ("https://idp.test/token", {"grant_type": "client_credentials", "scope": "system/*.cruds"},
                        ("jiayi-import", "s3cret"))
    assert len(calls) == 2


def test_refused_client_credentials_are_an_auth_error(monkeypatch):
    def token_post(url, data, auth, headers, timeout):
        response = requests.Response()
        response.status_code = 401
        response._content = b'{"error": "invalid_client"}'
        return response

    monkeypatch.setattr("adapters.fhir_client.requests.post", token_post)
    with pytest.raises(AuthError, match="invalid_client"):
        ClientCredentials("https://idp.test/token", "x", "y").token()


def test_auth_options():
    assert auth_from_options() is None
    assert isinstance(auth_from_options(token="abc"), BearerToken)
    assert isinstance(auth_from_options(client_id="a", client_secret="b", token_url="https://idp/t"),
                      ClientCredentials)
    with pytest.raises(ValueError, match="client-secret"):
        auth_from_options(client_id="a")


def test_decimals_go_out_and_come_back_with_their_text():
    """A value read as 1.50 from a clinic's file is posted as 1.50, not 1.5 (R4 §2.24.0.1), and a
    decimal in the server's answer keeps its text for the export."""
    from fhir_server.core.decimals import decimal_from_text

    answer = (200, {**BUNDLE, "entry": [{"resource": {"resourceType": "Observation", "id": "1"}}]})
    fhir, script, _ = client([answer])
    observation = {"resourceType": "Observation", "valueQuantity": {"value": decimal_from_text("1.50")}}
    fhir.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": observation}]})
    assert b'"value":1.50' in script.requests[0].body

    fhir, _script, _ = client([])
    response = requests.Response()
    response.status_code = 200
    response._content = b'{"resourceType":"Observation","valueQuantity":{"value":1.50}}'
    fhir.session.request = lambda *args, **kwargs: response
    assert str(fhir.get("Observation/1")["valueQuantity"]["value"]) == "1.50"
