"""A read that meets SQLite's "database is locked" (a search storing its pages inside a read
transaction) runs again as a writer; a write is never run twice."""

from __future__ import annotations

from contextlib import contextmanager

from fhir_server.app import create_app
from fhir_server.core.clock import counting_ids
from fhir_server.repository.base import DatabaseBusy
from fhir_server.repository.memory import MemoryRepository


class BusyOnce(MemoryRepository):
    """The twin, refusing the first unit of work of each kind in ``busy`` as SQLite would."""

    def __init__(self, busy: set[bool]) -> None:
        super().__init__(ids=counting_ids("p"))
        self.busy = busy
        self.opened: list[bool] = []

    @contextmanager
    def unit_of_work(self, write: bool = False):
        self.opened.append(write)
        if write in self.busy:
            self.busy.discard(write)
            raise DatabaseBusy("The database is busy with a concurrent write; retry the request")
        with super().unit_of_work(write=write) as uow:
            yield uow


def _client(repo):
    return create_app({"TESTING": True, "BASE_URL": "http://twin/fhir"}, repository=repo).test_client()


def test_a_busy_search_runs_again_as_a_writer():
    repo = BusyOnce(busy=set())
    client = _client(repo)
    assert client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"}).status_code == 201
    repo.busy, repo.opened = {False}, []
    response = client.get("/fhir/Patient?gender=male")
    assert response.status_code == 200 and response.get_json()["total"] == 1
    assert repo.opened == [False, True]


def test_a_busy_write_is_a_conflict_and_not_repeated():
    repo = BusyOnce(busy={True})
    response = _client(repo).post("/fhir/Patient", json={"resourceType": "Patient"})
    assert response.status_code == 409
    assert response.get_json()["issue"][0]["code"] == "conflict"
    assert repo.opened == [True]
