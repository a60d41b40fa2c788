"""Bearer tokens (SPEC Appendix A "Security"): 401s, RS256/ES256, exp/nbf/iss/aud, key rotation,
the open discovery documents, and scopes on each interaction type."""

from __future__ import annotations

import time

import pytest
from auth_support import ISSUER, TestIssuer, stranger_token

from fhir_server.app import create_app
from fhir_server.auth import tokens

BASE = "http://testserver/fhir"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    return TestIssuer(tmp_path_factory.mktemp("idp"), BASE)


@pytest.fixture(scope="module")
def app(database_url, issuer):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": BASE,
                      "AUTH_JWKS": str(issuer.jwks_path), "AUTH_ISSUER": ISSUER,
                      "AUTH_TOKEN_URL": "https://idp.test/token", "AUTH_AUTHORIZE_URL": "https://idp.test/auth"})
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


def _unauthorized(response) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_no_token_is_401(client):
    _unauthorized(client.get("/fhir/Patient"))
    _unauthorized(client.get("/fhir/Patient", headers={"Authorization": "Basic eDp5"}))
    _unauthorized(client.get("/fhir/Patient", headers={"Authorization": "Bearer not-a-jwt"}))


def test_metadata_and_smart_configuration_are_open(client):
    statement = client.get("/fhir/metadata").get_json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris == {"authorize": "https://idp.test/auth", "token": "https://idp.test/token"}
    smart = client.get("/fhir/.well-known/smart-configuration").get_json()
    assert smart["issuer"] == ISSUER and smart["token_endpoint"] == "https://idp.test/token"
    assert "permission-v2" in smart["capabilities"] and smart["code_challenge_methods_supported"] == ["S256"]


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_rs256_and_es256_tokens_are_accepted(client, issuer, kid):
    response = client.get("/fhir/Patient?_count=1", headers={"Authorization": f"Bearer {issuer.token(kid=kid)}"})
    assert response.status_code == 200, response.get_json()


# times relative to when the test runs (not to collection: a long suite reaches it minutes later)
@pytest.mark.parametrize("claims", [lambda now: {"exp": now - 120}, lambda now: {"nbf": now + 600},
                                    lambda now: {"aud": "https://elsewhere/fhir"},
                                    lambda now: {"iss": "https://evil.test"}], ids=["expired", "early", "aud", "iss"])
def test_expired_early_or_misaddressed_tokens_are_refused(client, issuer, claims):
    token = issuer.token(**claims(int(time.time())))
    _unauthorized(client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"}))


def test_a_token_signed_by_another_key_is_refused(client):
    _unauthorized(client.get("/fhir/Patient", headers={"Authorization": f"Bearer {stranger_token(BASE)}"}))


def test_an_unknown_kid_reads_the_key_set_again(client, issuer, monkeypatch):
    monkeypatch.setattr(tokens, "REFRESH_AFTER", 0.0)
    kid = f"ec-rotated-{len(issuer.keys)}"  # a new kid each run (the issuer is shared by both databases)
    issuer.add_key(kid)
    token = issuer.token(kid=kid)
    assert client.get("/fhir/Patient?_count=1", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_scopes_decide_each_interaction(client, issuer, unique):
    admin = issuer.headers("system/*.cruds")
    reader = issuer.headers("system/Patient.rs system/Observation.read")
    writer_v1 = issuer.headers("system/Patient.write")
    patient = {"resourceType": "Patient", "id": f"p-{unique}", "gender": "female"}
    assert client.put(f"/fhir/Patient/p-{unique}", json=patient, headers=reader).status_code == 403
    assert client.put(f"/fhir/Patient/p-{unique}", json=patient, headers=writer_v1).status_code == 201
    assert client.get(f"/fhir/Patient/p-{unique}", headers=writer_v1).status_code == 403
    assert client.get(f"/fhir/Patient/p-{unique}", headers=reader).status_code == 200
    assert client.get(f"/fhir/Patient/p-{unique}/_history", headers=reader).status_code == 200
    assert client.get(f"/fhir/Patient/p-{unique}/_history/1", headers=reader).status_code == 200
    assert client.get(f"/fhir/Patient?_id=p-{unique}", headers=reader).status_code == 200
    assert client.get("/fhir/Encounter", headers=reader).status_code == 403
    assert client.get(f"/fhir/Patient?_id=p-{unique}&_revinclude=Encounter:subject",
                      headers=reader).status_code == 403
    assert client.get(f"/fhir/Patient/p-{unique}/$everything", headers=reader).status_code == 200
    assert client.delete(f"/fhir/Patient/p-{unique}", headers=reader).status_code == 403
    assert client.patch(f"/fhir/Patient/p-{unique}", json=[{"op": "replace", "path": "/gender", "value": "male"}],
                        headers={**reader, "Content-Type": "application/json-patch+json"}).status_code == 403
    assert client.delete(f"/fhir/Patient/p-{unique}", headers=admin).status_code in (200, 204)


def test_every_batch_entry_is_authorized(client, issuer, unique):
    reader = issuer.headers("system/Patient.rs")
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Patient?_count=1"}},
        {"request": {"method": "POST", "url": "Patient"}, "resource": {"resourceType": "Patient"}}]}
    statuses = [e["response"]["status"] for e in client.post("/fhir", json=bundle, headers=reader).get_json()["entry"]]
    assert statuses[0].startswith("200") and statuses[1].startswith("403")
    bundle["type"] = "transaction"
    assert client.post("/fhir", json=bundle, headers=reader).status_code == 403
