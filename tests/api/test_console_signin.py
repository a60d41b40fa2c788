"""The console's sign-in (issue 22): OpenID Connect authorization code with PKCE; the
development issuer's endpoints only in demo mode; nothing of the console without a session."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from fhir_server.app import create_app
from fhir_server.auth import dev_issuer


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'console.sqlite3'}"
    jwks = dev_issuer.ensure_keys(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "AUTH_JWKS": str(jwks), "AUTH_ISSUER": dev_issuer.ISSUER,
                      "CONSOLE_DEV_LOGIN": True})
    yield app
    app.extensions["jiayi.database"].dispose()


def authorize_redirect(client) -> tuple[str, dict]:
    response = client.get("/console/login?go=1&next=/console/worklist")
    assert response.status_code == 302
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pick(client, person: str) -> str:
    """The development issuer's page: choose ``person``; returns the redirect back with the code."""
    location, _ = authorize_redirect(client)
    page = client.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields["person"] = person
    answer = client.post("/console/dev-login/authorize", data=fields)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"]


def test_nothing_without_signing_in(demo_app):
    client = demo_app.test_client()
    for path in ("/console/", "/console/worklist", "/console/residents/x", "/console/dashboard.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_the_authorization_request_carries_pkce_state_and_the_audience(demo_app):
    _, query = authorize_redirect(demo_app.test_client())
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43 and query["state"] and query["nonce"]
    assert query["aud"] == "http://localhost/fhir" and query["client_id"] == "jiayi-console"
    assert query["redirect_uri"] == "http://localhost/console/callback"


def test_sign_in_as_a_picked_person_and_see_the_worklist(demo_app):
    client = demo_app.test_client()
    people = client.get(authorize_redirect(client)[0]).get_data(as_text=True)
    assert 'value="officer"' in people and 'value="engineer"' in people
    back = pick(client, "officer")
    signed_in = client.get(back)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/console/worklist")
    page = client.get("/console/worklist")
    assert page.status_code == 200 and "区卫健委考核专员" in page.get_data(as_text=True)


def test_a_code_is_redeemed_once_and_only_with_its_verifier(demo_app):
    client = demo_app.test_client()
    back = pick(client, "engineer")
    code = parse_qs(urlsplit(back).query)["code"][0]
    wrong = client.post("/console/dev-login/token", data={
        "grant_type": "authorization_code", "code": code, "code_verifier": "x" * 50,
        "redirect_uri": "http://localhost/console/callback"})
    assert wrong.status_code == 400
    assert client.get(back).status_code == 302  # the console's own exchange, with the right verifier
    assert client.get(back).status_code == 400  # the same answer again: the state was used


def test_the_code_is_not_an_access_token(demo_app):
    client = demo_app.test_client()
    code = parse_qs(urlsplit(pick(client, "engineer")).query)["code"][0]
    response = client.get("/fhir/Patient", headers={"Authorization": f"Bearer {code}"})
    assert response.status_code == 401


def test_a_changed_state_is_refused(demo_app):
    client = demo_app.test_client()
    back = pick(client, "engineer").replace("state=", "state=x")
    assert client.get(back).status_code == 400


def test_forms_need_the_sessions_csrf_token(demo_app):
    client = demo_app.test_client()
    client.get(pick(client, "engineer"))
    assert client.post("/console/contracts/c1/renew", data={}).status_code == 400


def test_the_development_issuer_is_absent_unless_demo_mode_asks_for_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    jwks = dev_issuer.ensure_keys(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "AUTH_JWKS": str(jwks),
                      "AUTH_AUTHORIZE_URL": "https://idp.example/authorize", "AUTH_TOKEN_URL": "https://idp.example/token"})
    try:
        client = app.test_client()
        assert client.get("/console/dev-login/authorize").status_code == 404
        assert client.post("/console/dev-login/token").status_code in (400, 404)
        location, query = authorize_redirect(client)
        assert location.startswith("https://idp.example/authorize?") and query["code_challenge_method"] == "S256"
    finally:
        app.extensions["jiayi.database"].dispose()


def test_chinese_first_english_on_request(demo_app):
    client = demo_app.test_client()
    client.get(pick(client, "officer"))
    assert "上季度" in client.get("/console/dashboard").get_data(as_text=True)
    english = client.get("/console/dashboard?lang=en").get_data(as_text=True)
    assert "Last quarter" in english and 'lang="en"' in english
    assert "Last quarter" in client.get("/console/dashboard").get_data(as_text=True)  # kept in the session
