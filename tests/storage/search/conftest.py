"""Fixtures: the search dataset loaded once per database (rows written straight into
``resource`` and indexed in the same transaction) and once as an in-memory store."""

from __future__ import annotations

import copy

import pytest
from search_dataset import dataset, write

from fhir_server.storage.db import Database


@pytest.fixture(scope="session")
def search_db(database_url):
    db = Database(database_url)
    with db.session(write=True) as session:
        for resource in dataset():
            write(session, resource)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def memory_store():
    return {(r["resourceType"], r["id"]): r for r in copy.deepcopy(dataset())}
