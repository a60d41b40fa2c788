"""API tests through the Flask test client, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from fhir_server.app import create_app


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir"})
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def unique() -> str:
    """A value no other test uses (tests share one database per backend)."""
    return uuid.uuid4().hex[:12]


def patient(unique: str, **extra) -> dict:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.2", "value": unique}],
        "name": [{"text": "张三", "family": "张", "given": ["三"]}],
        "gender": "male",
        "birthDate": "1950-03-04",
    }
    resource.update(extra)
    return resource


FHIR_JSON = "application/fhir+json"
