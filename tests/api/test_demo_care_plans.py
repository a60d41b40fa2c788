"""The demo district's health-management plans are what ``PlanDefinition/$apply`` stores: on the
loaded demo (SQLite and PostgreSQL), ``$apply`` for a demo resident builds the same plan and
finds the stored one; some follow-ups are overdue on the demo's day, so the worklist has rows."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import fresh_database_url

from fhir_server.app import create_app
from fhir_server.serving import load_demo

AS_OF = dt.date(2026, 11, 23)
RESIDENTS = 120
SAME = ("extension", "instantiatesCanonical", "intent", "category", "title", "period", "careTeam",
        "author", "activity")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    counts = load_demo(url, residents=RESIDENTS, as_of=AS_OF)
    assert counts["CarePlan"] > 5
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    yield app.test_client()
    app.extensions["jiayi.database"].dispose()


def _plans(client, query: str) -> list[dict]:
    bundle = client.get(f"/fhir/CarePlan?{query}").get_json()
    return [e["resource"] for e in bundle.get("entry") or []]


def test_demo_plans_are_what_apply_builds_and_apply_finds_them(client):
    for plan in _plans(client, "status=active&_count=5&_sort=_id"):
        package = plan["instantiatesCanonical"][0].rsplit("/", 1)[1]
        params = {"subject": plan["subject"]["reference"], "contract": plan["extension"][0]["valueReference"]
                  ["reference"], "practitioner": plan["author"]["reference"]}
        draft = client.get(f"/fhir/PlanDefinition/{package}/$apply", query_string=params).get_json()
        assert {k: draft.get(k) for k in SAME} == {k: plan.get(k) for k in SAME}
        assert draft["meta"]["profile"] == plan["meta"]["profile"]
        assert sorted(a["reference"] for a in draft["addresses"]) == sorted(a["reference"] for a in plan["addresses"])
        parameters = [{"name": k, "valueString": v} for k, v in params.items()]
        parameters.append({"name": "persist", "valueBoolean": True})
        again = client.post(f"/fhir/PlanDefinition/{package}/$apply",
                            json={"resourceType": "Parameters", "parameter": parameters})
        assert again.status_code == 200 and again.get_json()["id"] == plan["id"]


def test_some_demo_follow_ups_are_overdue_and_some_done(client):
    overdue = _plans(client, f"status=active&activity-due=lt{AS_OF}&_count=100")
    assert overdue and len(overdue) < len(_plans(client, "status=active&_count=200"))
    statuses = {a["detail"]["status"] for p in overdue for a in p["activity"]}
    assert {"scheduled", "completed"} <= statuses
