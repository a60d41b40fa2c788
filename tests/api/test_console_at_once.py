"""The console's screens ask their independent searches together on PostgreSQL (views.common.together):
the family doctor's worklist and the hospital's referral desk are the same pages either way, on a
demo district, signed in with development tokens as the console's sign-in leaves them."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from helpers import fresh_database_url

from fhir_server.app import create_app
from fhir_server.auth import dev_issuer
from fhir_server.serving import load_demo

AS_OF = dt.date.today()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    load_demo(url, residents=300, as_of=AS_OF)
    jwks = dev_issuer.ensure_keys(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "AUTH_JWKS": str(jwks), "AUTH_ISSUER": dev_issuer.ISSUER})
    yield request.param, url, app
    app.extensions["jiayi.database"].dispose()


def _signed_in(app, url: str, fhir_user: str):
    client = app.test_client()
    token = dev_issuer.issue(url, {"sub": fhir_user, "fhirUser": fhir_user, "aud": "http://localhost/fhir",
                                   "scope": "openid fhirUser user/*.cruds"})
    with client.session_transaction() as session:
        session["user"] = {"token": token, "fhir_user": fhir_user, "region": None, "name": "test",
                           "scope": "user/*", "expires": time.time() + 3600}
    return client


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return re.sub(r'name="csrf[^"]*" value="[^"]*"', "", response.get_data(as_text=True))


def _found(app, url: str, search: str) -> list[dict]:
    token = dev_issuer.issue(url, {"sub": "t", "aud": "http://localhost/fhir", "scope": "openid system/*.rs"})
    bundle = app.test_client().get(f"/fhir/{search}", headers={"Authorization": f"Bearer {token}"}).get_json()
    return [e["resource"] for e in bundle.get("entry") or []]


def test_the_worklist_and_the_desk_are_the_same_asked_together(console):
    backend, url, app = console
    assert app.extensions["jiayi.console.at_once"] is (backend == "postgresql")
    team = _found(app, url, "CareTeam?_count=1")[0]
    doctor = next(p["member"]["reference"] for p in team["participant"]
                  if p["member"]["reference"].startswith("Practitioner/"))
    hospital = next(t["owner"]["reference"] for t in _found(app, url, "Task?status=requested&intent=order&_count=100")
                    if t.get("owner", {}).get("reference", "").startswith("Organization/org-hosp"))
    role = _found(app, url, f"PractitionerRole?organization={hospital}&_count=1")[0]["practitioner"]["reference"]
    pages = {}
    for at_once in (True, False):
        app.extensions["jiayi.console.at_once"] = at_once
        pages[at_once] = (_page(_signed_in(app, url, doctor), "/console/worklist"),
                          _page(_signed_in(app, url, role), "/console/desk"))
    app.extensions["jiayi.console.at_once"] = backend == "postgresql"
    assert pages[True] == pages[False]
    assert "/console/residents/" in pages[True][0] and "data-task=" in pages[True][1]  # rows to compare
