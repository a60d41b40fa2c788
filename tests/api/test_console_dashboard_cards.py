"""The dashboard's cards never wait for a whole-district evaluation (issue 22): a card whose
summary the server has not kept answers 202 with Retry-After at once, the server evaluates the
summary in the background, and the card's next ask shows the numbers; the CSV export waits for
them.  On SQLite and PostgreSQL, signed in as a district officer with a development token."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from helpers import fresh_database_url

from fhir_server.app import create_app
from fhir_server.auth import dev_issuer
from fhir_server.console import pages
from fhir_server.console.views import dashboard
from fhir_server.serving import load_demo

AS_OF = dt.date.today()
REGION = "Organization/org-nhc"


@pytest.fixture(params=["sqlite", "postgresql"])
def officer(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    load_demo(url, residents=12, as_of=AS_OF)
    jwks = dev_issuer.ensure_keys(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "AUTH_JWKS": str(jwks), "AUTH_ISSUER": dev_issuer.ISSUER})
    kept = app.extensions["jiayi.kept_reports"]
    kept.background = False  # the wanted summaries are evaluated when the test says
    client = app.test_client()
    token = dev_issuer.issue(url, {"sub": "officer", "aud": "http://localhost/fhir", "scope": "openid user/*.rs",
                                   "jiayi_region": REGION})
    with client.session_transaction() as session:
        session["user"] = {"token": token, "fhir_user": None, "region": REGION, "name": "test", "scope": "user/*",
                           "expires": time.time() + 3600}
    dashboard._cache.clear()
    yield client, kept
    dashboard._cache.clear()
    app.extensions["jiayi.database"].dispose()


def test_a_card_not_kept_answers_at_once_and_shows_once_evaluated(officer):
    client, kept = officer
    card = "/console/dashboard/cards/jiayi-coverage?preset=year"
    waiting = client.get(card)
    assert waiting.status_code == 202 and waiting.headers["Retry-After"] == str(pages.EVALUATING_RETRY_SECONDS)
    assert "正在计算" in waiting.get_data(as_text=True)
    previous = client.get(card.replace("?", "/previous?"))
    assert previous.status_code == 202  # neither period is kept yet

    assert kept.refresh(wanted_only=True) == 1  # the card's period (the period before: asked after it)
    shown = client.get(card)
    assert shown.status_code == 200 and 'data-score="jiayi-coverage"' in shown.get_data(as_text=True)
    assert client.get(card.replace("?", "/previous?")).status_code == 202  # now the period before is wanted
    assert kept.refresh(wanted_only=True) == 1
    compared = client.get(card.replace("?", "/previous?"))
    assert compared.status_code == 200 and "%" in compared.get_data(as_text=True)


def test_the_csv_export_waits_for_every_summary(officer):
    client, kept = officer
    exported = client.get("/console/dashboard.csv?preset=year")
    assert exported.status_code == 200
    lines = exported.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("measure,title,stratum") and any(line.startswith("jiayi-coverage,") for line in lines)
    assert kept.refresh(wanted_only=True) == 0  # evaluated in the export's request, nothing left wanted
