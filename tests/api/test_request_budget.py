"""The per-request budget (issue 18): work made slow on purpose through an injected write hook
is cut off with a 503 OperationOutcome, nothing is written, and the next request is served.
Python loops stop at checkpoints; SQL stops by SQLite's progress handler or PostgreSQL's
statement_timeout."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from fhir_server.app import create_app
from fhir_server.core import budget

BUDGET_SECONDS = 1.0
CUT_OFF_BY = 30  # seconds: far beyond the budget, so a hook that is not cut off fails the test


def _slow_python(uow, event) -> None:
    if event.resource and event.resource.get("name", [{}])[0].get("family") == "SLOW-PYTHON":
        started = time.monotonic()
        while time.monotonic() - started < CUT_OFF_BY:  # a long computation with checkpoints
            budget.checkpoint()
            time.sleep(0.01)


def _slow_sql(uow, event) -> None:
    if event.resource and event.resource.get("name", [{}])[0].get("family") == "SLOW-SQL":
        if uow.session.get_bind().dialect.name == "postgresql":
            uow.session.execute(text(f"SELECT pg_sleep({CUT_OFF_BY})"))
        else:  # a statement that never ends by itself
            uow.session.execute(text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                                     "SELECT count(*) FROM n"))


@pytest.fixture(scope="module")
def slow_app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "REQUEST_TIMEOUT": BUDGET_SECONDS,
                      "LOAD_IG": False})
    app.extensions["jiayi.repository"].hooks.before_write.extend([_slow_python, _slow_sql])
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.mark.parametrize("family", ["SLOW-PYTHON", "SLOW-SQL"])
def test_slow_work_is_cut_off_and_the_next_request_is_served(slow_app, family, unique):
    client = slow_app.test_client()
    started = time.monotonic()
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": family}],
                                                  "identifier": [{"system": "urn:x", "value": unique}]})
    assert time.monotonic() - started < CUT_OFF_BY  # cut off, not run to its end (no timing asserted)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.get_json()["issue"][0]["code"] == "too-costly"
    assert client.get(f"/fhir/Patient?identifier=urn:x|{unique}").get_json()["total"] == 0
    assert client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "快"}]}).status_code == 201


def test_no_budget_outside_a_request():
    assert budget.remaining() is None
    budget.checkpoint()  # the CLI, demo loading and background jobs run without a deadline


def _busy_cpu(uow, event) -> None:
    if event.resource and event.resource.get("name", [{}])[0].get("family") == "SLOW-CPU":
        started = time.monotonic()
        while time.monotonic() - started < CUT_OFF_BY:  # burns CPU, never sleeps
            sum(range(10_000))
            budget.checkpoint()


@pytest.fixture(scope="module")
def cpu_app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "REQUEST_TIMEOUT": 0,
                      "REQUEST_CPU_TIMEOUT": BUDGET_SECONDS / 2, "LOAD_IG": False})
    app.extensions["jiayi.repository"].hooks.before_write.append(_busy_cpu)
    yield app
    app.extensions["jiayi.database"].dispose()


def test_cpu_bound_work_is_cut_off_by_the_cpu_budget(cpu_app, unique):
    client = cpu_app.test_client()
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "SLOW-CPU"}],
                                                  "identifier": [{"system": "urn:x", "value": unique}]})
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert "CPU" in response.get_json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/Patient?identifier=urn:x|{unique}").get_json()["total"] == 0
    assert client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "快"}]}).status_code == 201


def test_a_sleeping_request_spends_no_cpu_budget():
    budget.start(None, 0.05)
    try:
        time.sleep(0.1)  # wall time passes, the thread's CPU does not
        budget.checkpoint()
    finally:
        budget.clear()
