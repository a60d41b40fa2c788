"""The SQL unit of work buffers first versions, history and index rows and writes them in
batches; whatever it buffers must look written to everything inside the unit of work and be
written at commit (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest

from fhir_server.core.errors import Conflict
from fhir_server.repository.base import HistoryQuery
from fhir_server.repository.sql import SqlRepository
from fhir_server.search import parse_search
from fhir_server.storage.db import Database


@pytest.fixture(scope="module")
def repo(database_url):
    database = Database(database_url)
    yield SqlRepository(database)
    database.dispose()


def _basic(text: str) -> dict:
    return {"resourceType": "Basic", "code": {"text": text}}


def _found(uow, text: str) -> list[str]:
    return [m.res_id for m in uow.search(parse_search("Basic", [("code:text", text)])).matches]


def test_buffered_create_is_seen_by_get_search_history_and_commit(repo):
    rid, text = uuid.uuid4().hex, uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", rid, _basic(text), None)
        assert uow.get("Basic", rid).version == 1
        assert _found(uow, text) == [rid]
        assert uow.history(HistoryQuery("Basic", rid)).total == 1
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", rid).content["code"]["text"] == text
        assert _found(uow, text) == [rid]


def test_create_then_update_in_one_unit_of_work_keeps_only_the_new_index_rows(repo):
    rid, old, new = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        first = uow.save("POST", "Basic", rid, _basic(old), None)
        uow.save("PUT", "Basic", rid, _basic(new), uow.get("Basic", rid))
        assert first.version == 1
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", rid).version == 2
        assert _found(uow, old) == [] and _found(uow, new) == [rid]
        assert [v.version for v in uow.history(HistoryQuery("Basic", rid)).entries] == [2, 1]


def test_prefetch_answers_get_once_and_a_save_replaces_it(repo):
    rid, missing = uuid.uuid4().hex, uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", rid, _basic("a"), None)
    with repo.unit_of_work(write=True) as uow:
        uow.prefetch([("Basic", rid), ("Basic", missing)])
        current = uow.get("Basic", rid)
        assert current.version == 1 and uow.get("Basic", missing) is None
        uow.save("PUT", "Basic", rid, _basic("b"), current)
        assert uow.get("Basic", rid).version == 2


def test_a_clash_found_at_flush_is_a_conflict_and_writes_nothing(repo):
    rid = uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", rid, _basic("first"), None)
    other = uuid.uuid4().hex
    with pytest.raises(Conflict), repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", other, _basic("other"), None)
        uow.save("POST", "Basic", rid, _basic("again"), None)  # as if created meanwhile
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", other) is None
        assert uow.get("Basic", rid).content["code"]["text"] == "first"
