"""The repository contract, on the in-memory twin, SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from helpers import migrated_url

from fhir_server.core.clock import SteppingClock
from fhir_server.core.errors import Conflict
from fhir_server.repository.base import HistoryQuery
from fhir_server.repository.memory import MemoryRepository
from fhir_server.repository.sql import SqlRepository
from fhir_server.storage.db import Database

START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def repo(request, tmp_path_factory):
    clock = SteppingClock(START, timedelta(seconds=1))
    if request.param == "memory":
        yield MemoryRepository(clock=clock)
        return
    database = Database(migrated_url(request.param, request, tmp_path_factory))
    yield SqlRepository(database, clock=clock)
    database.dispose()


def _basic(text: str = "x") -> dict:
    return {"resourceType": "Basic", "code": {"text": text}}


def test_versions_and_meta(repo):
    rid = uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        first = uow.save("POST", "Basic", rid, _basic(), None)
    with repo.unit_of_work(write=True) as uow:
        second = uow.save("PUT", "Basic", rid, _basic("y"), uow.get("Basic", rid))
    assert (first.version, second.version) == (1, 2)
    assert second.content["meta"]["versionId"] == "2"
    assert second.content["meta"]["lastUpdated"] == "2026-01-01T08:00:01.000Z"
    with repo.unit_of_work() as uow:
        assert uow.get_version("Basic", rid, 1).content["code"]["text"] == "x"
        assert uow.get("Basic", rid).content["code"]["text"] == "y"


def test_failed_unit_of_work_writes_nothing(repo):
    rid = uuid.uuid4().hex
    with pytest.raises(RuntimeError), repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", rid, _basic(), None)
        raise RuntimeError("fail after the write")
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", rid) is None
        assert uow.history(HistoryQuery("Basic", rid)).total == 0


def test_stale_previous_is_a_conflict(repo):
    rid = uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        first = uow.save("POST", "Basic", rid, _basic(), None)
    with repo.unit_of_work(write=True) as uow:
        uow.save("PUT", "Basic", rid, _basic("y"), first)
    with pytest.raises(Conflict), repo.unit_of_work(write=True) as uow:
        uow.save("PUT", "Basic", rid, _basic("z"), first)


def test_delete_keeps_history(repo):
    rid = uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        first = uow.save("POST", "Basic", rid, _basic(), None)
        tombstone = uow.delete("Basic", rid, first)
    assert tombstone.deleted and tombstone.version == 2
    with repo.unit_of_work() as uow:
        page = uow.history(HistoryQuery("Basic", rid))
    assert [v.version for v in page.entries] == [2, 1] and page.entries[0].method == "DELETE"


def test_hooks_run_inside_the_transaction(repo):
    seen = []

    def refuse_named_z(uow, event):
        seen.append(event.method)
        if event.resource and event.resource["code"]["text"] == "z":
            raise Conflict("z is not allowed")

    repo.hooks.before_write.append(refuse_named_z)
    rid = uuid.uuid4().hex
    with pytest.raises(Conflict), repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", rid, _basic("z"), None)
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", rid) is None
    assert seen == ["POST"]


def test_before_commit_runs_once_per_key_inside_the_transaction_and_sees_every_write(repo):
    """A deferred rule (a visit judged from all its Observations) runs once, after the unit of
    work's own writes, and what it writes commits with them."""
    rids = [uuid.uuid4().hex for _ in range(3)]
    seen: list[int] = []

    def judge(uow) -> None:
        seen.append(sum(1 for rid in rids if uow.get("Basic", rid) is not None))
        uow.save("POST", "Basic", rids[2], _basic("written by the rule"), None)

    with repo.unit_of_work(write=True) as uow:
        for rid in rids[:2]:
            uow.save("POST", "Basic", rid, _basic(), None)
            uow.before_commit(("visit", "v1"), lambda uow=uow: judge(uow))
    assert seen == [2]
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", rids[2]).content["code"]["text"] == "written by the rule"


def test_a_failing_deferred_rule_rolls_the_whole_unit_of_work_back(repo):
    rid = uuid.uuid4().hex

    def refuse() -> None:
        raise Conflict("refused by the rule")

    with pytest.raises(Conflict), repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", rid, _basic(), None)
        uow.before_commit("rule", refuse)
    with repo.unit_of_work() as uow:
        assert uow.get("Basic", rid) is None


def test_generations_count_the_writes_of_each_type(repo):
    with repo.unit_of_work(write=True) as uow:
        assert uow.generations.get("Basic", 0) == 0
        stored = uow.save("POST", "Basic", uuid.uuid4().hex, _basic(), None)
        uow.delete("Basic", stored.res_id, stored)
        assert uow.generations["Basic"] == 2 and "Patient" not in uow.generations


def test_a_rule_lookup_is_remembered_until_its_type_is_written(repo):
    from fhir_server.familydoctor import queries as lookup

    text_ = uuid.uuid4().hex
    with repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", uuid.uuid4().hex, _basic(text_), None)
        first = lookup.find(uow, "Basic", [("code:text", text_)])
        first[0]["code"]["text"] = "changed by a rule"  # the caller's copy only
        assert lookup.find(uow, "Basic", [("code:text", text_)])[0]["code"]["text"] == text_
        uow.save("POST", "Basic", uuid.uuid4().hex, _basic(text_), None)
        assert len(lookup.find(uow, "Basic", [("code:text", text_)])) == 2
