"""The fuzz suite (issue 18): generated inputs for every parser, never a 500.

Bounded for CI; ``JIAYI_FUZZ_EXAMPLES`` raises the number of examples per test for a longer
run (docs/testing.md).  Each API test shares one app per backend (the shared
``database_url`` fixture: SQLite and PostgreSQL)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from fhir_server.app import create_app

EXAMPLES = int(os.environ.get("JIAYI_FUZZ_EXAMPLES", "12"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("JIAYI_FUZZ_EXAMPLES"),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large], database=None)


@pytest.fixture(scope="session")
def fuzz_app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir"})
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.fixture()
def fuzz_client(fuzz_app):
    return fuzz_app.test_client()


def assert_handled(response) -> None:
    """A success, or a 4xx whose body is an OperationOutcome; never a 5xx."""
    text = response.get_data(as_text=True)[:400]
    assert response.status_code < 500, text
    if response.status_code >= 400:
        assert response.get_json()["resourceType"] == "OperationOutcome", text
