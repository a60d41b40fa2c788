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


def test_buffered_rows_hold_what_sqlalchemys_types_would_bind(repo):
    """SQLite writes the buffered current and history rows as plain SQL on the driver's cursor:
    their columns must hold the very text SQLAlchemy's types would have bound (timestamps,
    booleans, JSON with exact decimals), and a deleted version's content the same JSON null."""
    from sqlalchemy import insert, select

    from fhir_server.core.decimals import FhirDecimal
    from fhir_server.storage.models import ResourceRow, ResourceVersionRow

    rid, twin = uuid.uuid4().hex, uuid.uuid4().hex
    resource = {**_basic("与 decimals"), "extension": [{"url": "http://example.org/x",
                                                        "valueDecimal": FhirDecimal("1.50")}]}
    with repo.unit_of_work(write=True) as uow:
        stored = uow.save("POST", "Basic", rid, resource, None)
        uow.delete("Basic", rid, stored)
    with repo.unit_of_work(write=True) as uow:
        connection = uow.session.connection()
        versions = uow.session.execute(select(ResourceVersionRow).where(ResourceVersionRow.res_id == rid)
                                      .order_by(ResourceVersionRow.version)).scalars().all()
        for v in versions:  # the same values through SQLAlchemy's own INSERTs, under another id
            connection.execute(insert(ResourceVersionRow), {
                "res_type": "Basic", "res_id": twin, "version": v.version, "last_updated": v.last_updated,
                "method": v.method, "deleted": v.deleted, "content": v.content})
        connection.execute(insert(ResourceRow), {"res_type": "Basic", "res_id": twin, "version": 1,
                                                 "last_updated": stored.last_updated, "deleted": False,
                                                 "content": stored.content})
        columns = "version, last_updated, method, deleted, CAST(content AS TEXT)"
        raw = [connection.exec_driver_sql(
            f"SELECT {columns} FROM resource_version WHERE res_id = '{i}' ORDER BY version").all() for i in (rid, twin)]
        assert raw[0] == raw[1]
        assert "1.50" in raw[0][0][4]
    with repo.unit_of_work(write=True) as uow:  # a first version, not deleted: the current row too
        third = uuid.uuid4().hex
        uow.save("POST", "Basic", third, resource, None)
    with repo.unit_of_work(write=True) as uow:
        connection = uow.session.connection()
        mine = connection.exec_driver_sql(
            "SELECT version, last_updated, deleted, CAST(content AS TEXT) FROM resource "
            f"WHERE res_id = '{third}'").one()
        row = uow.session.execute(select(ResourceRow).where(ResourceRow.res_id == third)).scalar_one()
        connection.execute(insert(ResourceRow), {"res_type": "Basic", "res_id": twin + "c", "version": row.version,
                                                 "last_updated": row.last_updated, "deleted": row.deleted,
                                                 "content": row.content})
        theirs = connection.exec_driver_sql(
            "SELECT version, last_updated, deleted, CAST(content AS TEXT) FROM resource "
            f"WHERE res_id = '{twin}c'").one()
        assert mine == theirs
