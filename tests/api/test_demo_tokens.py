"""`jiayi serve --demo` on loopback (JIAYI_AUTH_OPTIONAL with the development issuer's keys):
a request without a token is open, as in development mode, and a token, when sent, is
verified and limits what the request sees (README "The development issuer")."""

from __future__ import annotations

import pytest

from fhir_server.app import create_app
from fhir_server.auth import dev_issuer
from fhir_server.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    database = f"sqlite:///{folder / 'demo.sqlite3'}"
    app = create_app({"DATABASE_URL": database, "TESTING": True, "LOAD_IG": False,
                      "AUTH_JWKS": str(dev_issuer.ensure_keys(database)), "AUTH_ISSUER": dev_issuer.ISSUER,
                      "AUTH_OPTIONAL": True, "BASE_URL": "http://localhost:8080/fhir"})
    yield app, database
    app.extensions["jiayi.database"].dispose()


def _token(database: str, *args: str) -> str:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["token", *args, "--database", database])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_without_a_token_the_demo_is_open_and_a_token_limits_what_is_seen(demo):
    app, database = demo
    client = app.test_client()
    ids = [client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": f"演示{k}"}]}
                       ).get_json()["id"] for k in range(3)]
    assert client.get("/fhir/Patient?_summary=count").get_json()["total"] >= 3
    mine = _token(database, "--fhir-user", f"Patient/{ids[0]}", "--scope", "patient/*.rs")
    seen = client.get("/fhir/Patient", headers={"Authorization": f"Bearer {mine}"}).get_json()
    assert [e["resource"]["id"] for e in seen.get("entry", [])] == [ids[0]]
    refused = client.get(f"/fhir/Patient/{ids[1]}", headers={"Authorization": f"Bearer {mine}"})
    assert refused.status_code in (403, 404)


def test_a_bad_token_is_refused_even_in_the_demo(demo):
    app, _ = demo
    response = app.test_client().get("/fhir/Patient", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]
