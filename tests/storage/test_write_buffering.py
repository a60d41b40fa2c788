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


def test_a_large_batch_stores_the_very_rows_of_one_by_one_writes(repo):
    """A background writer's many buffered rows go to SQLite as one statement over their JSON
    text (``storage.db.sqlite_insert_rows``), a request's as an ``executemany``, and to
    PostgreSQL as arrays:
    a batch of resources written in one unit of work must leave exactly the rows (values and, on
    SQLite, their storage classes) that the same resources leave written one per unit of work."""
    from fhir_server.storage.db import ONE_STATEMENT_ROWS
    from fhir_server.storage.index_tables import INDEX_TABLES, TEXT_TABLE

    texts = ['引号 "quoted" \\ back\\slash', "emoji 🩺 and 中文 tab\t", "", "'single' -- x", "ctrl\x01\x1f"]

    def resource(n: int) -> dict:
        return {"resourceType": "Basic", "code": {"text": texts[n % len(texts)] + str(n),
                                                  "coding": [{"system": "urn:x", "code": f"c{n}"}]},
                "identifier": [{"system": "urn:oid:2.16.156.10011.1.1", "value": f"11010519491231002{n % 10}"}],
                "subject": {"reference": f"Patient/p{n % 7}"}, "created": f"2026-0{1 + n % 9}-1{n % 10}",
                "author": {"display": f"医生{n}"}}

    count = ONE_STATEMENT_ROWS + 6
    batch = [f"b{uuid.uuid4().hex[:20]}{n:03d}" for n in range(count)]
    single = [f"s{uuid.uuid4().hex[:20]}{n:03d}" for n in range(count)]
    with repo.unit_of_work(write=True, bulk=True) as uow:  # a background writer's batch
        for n, rid in enumerate(batch):
            uow.save("POST", "Basic", rid, resource(n), None)
    for n, rid in enumerate(single):
        with repo.unit_of_work(write=True) as uow:
            uow.save("POST", "Basic", rid, resource(n), None)

    def rows(ids: list[str]) -> list[list[tuple]]:
        out = []
        with repo.unit_of_work() as uow:
            connection = uow.session.connection()
            sqlite = connection.dialect.name == "sqlite"
            for table in [*INDEX_TABLES.values(), TEXT_TABLE]:
                columns = [c.name for c in table.columns if c.name not in ("id", "res_id")]
                picked = ", ".join(columns + ([f"typeof({c})" for c in columns] if sqlite else []))
                for rid in ids:
                    out.append(sorted(connection.exec_driver_sql(
                        f"SELECT {picked} FROM {table.name} WHERE res_type = 'Basic' AND res_id = '{rid}'").all(),
                        key=repr))
            for rid in ids:
                out.append(list(connection.exec_driver_sql(
                    "SELECT version, deleted, CAST(content AS TEXT) FROM resource "
                    f"WHERE res_type = 'Basic' AND res_id = '{rid}'").one()))
        return out

    batched, one_by_one = rows(batch), rows(single)
    for got, want in zip(batched[-count:], one_by_one[-count:], strict=True):
        assert got[:2] == want[:2]
        # the content names its own id and lastUpdated: the rest is the same
        assert _without_id_and_meta(got[2]) == _without_id_and_meta(want[2])
    assert [r for r in batched[:-count]] == [r for r in one_by_one[:-count]]
    assert any(r for r in batched[:-count])


def _without_id_and_meta(text: str) -> dict:
    import json

    content = json.loads(text)
    content.pop("id"), content.pop("meta")
    return content


def test_one_statement_inserts_keep_what_json_cannot_carry(tmp_path):
    """SQLite's many-row INSERT over JSON text gives back each value as bound (quotes,
    backslashes, CJK, integers, NULL), and falls back to the per-row form for text JSON would
    not carry through SQLite's reader (a NUL character): nothing is cut."""
    from sqlalchemy import create_engine

    from fhir_server.storage.db import ONE_STATEMENT_ROWS, sqlite_insert_rows

    engine = create_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    with_nul = [(f"x{n}\x00tail", n, None) for n in range(ONE_STATEMENT_ROWS)]
    plain = [(f'引号 "{n}" \\ é', n, None if n % 2 else "c") for n in range(ONE_STATEMENT_ROWS)]
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
        sqlite_insert_rows(connection, "t", ("a", "b", "c"), True, with_nul)
        sqlite_insert_rows(connection, "t", ("a", "b", "c"), True, plain)
        stored = connection.exec_driver_sql("SELECT a, b, c, typeof(b) FROM t ORDER BY rowid").all()
    engine.dispose()
    assert [tuple(r[:3]) for r in stored] == with_nul + plain
    assert {r[3] for r in stored} == {"integer"}
