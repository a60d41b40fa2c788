"""Disclosure (issue 18): links never follow an unvetted Host header; nosniff on every answer."""

from __future__ import annotations

import pytest

from fhir_server.app import create_app


@pytest.fixture(scope="module")
def app_without_base(database_url):
    def make(**overrides):
        app = create_app({"DATABASE_URL": database_url, "TESTING": True, "LOAD_IG": False, "BASE_URL": None,
                          **overrides})
        return app

    made = []
    yield lambda **o: made.append(make(**o)) or made[-1]
    for app in made:
        app.extensions["jiayi.database"].dispose()


def _post(app, host: str):
    return app.test_client().post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"},
                                  headers={"Host": host})


def test_base_url_wins_over_the_host_header(client):
    response = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers={"Host": "evil.example"})
    assert response.status_code == 201
    assert response.headers["Location"].startswith("http://testserver/fhir/Patient/")


def test_without_base_url_only_loopback_hosts_are_believed(app_without_base):
    app = app_without_base()
    assert _post(app, "127.0.0.1:8080").headers["Location"].startswith("http://127.0.0.1:8080/fhir/")
    refused = _post(app, "evil.example")
    assert refused.status_code == 400 and refused.get_json()["issue"][0]["code"] == "security"


def test_allowed_hosts(app_without_base):
    app = app_without_base(ALLOWED_HOSTS="fhir.district.example, other.example:8443")
    assert _post(app, "fhir.district.example").headers["Location"].startswith("http://fhir.district.example/fhir/")
    assert _post(app, "other.example:8443").status_code == 201
    assert _post(app, "evil.example").status_code == 400


def test_nosniff_on_success_and_error(client):
    assert client.get("/fhir/metadata").headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/fhir/Patient/nope-nope").headers["X-Content-Type-Options"] == "nosniff"
