"""A worker that dies in the middle of an export (issue 20): the next worker continues from the
last checkpoint, and every resource is in the files exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from bulk_support import KICKOFF, download, run_jobs, since_now, status_path
from sqlalchemy import text

from fhir_server.app import create_app
from fhir_server.bulk import ndjson


class WorkerDied(BaseException):
    """Not an Exception: the runner must not turn it into a failed job (a killed process doesn't)."""


@pytest.fixture(scope="module")
def app(database_url, tmp_path_factory):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir",
                      "EXPORT_DIR": str(tmp_path_factory.mktemp("exports")), "EXPORT_FILE_BYTES": 1500,
                      "EXPORT_PAGE": 4})
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.mark.parametrize("die_at_sync", [1, 3, 6])
def test_a_killed_worker_s_job_resumes_without_duplicates(app, monkeypatch, die_at_sync):
    client = app.test_client()
    since = since_now()
    ids = [client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "female"}).get_json()["id"]
           for _ in range(22)]
    response = client.get(f"/fhir/$export?_type=Patient&_since={since}", headers=KICKOFF)
    real_sync, calls = ndjson.TypeFiles.sync, []

    def sync_then_die(self):
        position = real_sync(self)
        calls.append(position)
        if len(calls) == die_at_sync:
            raise WorkerDied()  # the page's lines are on disk, its checkpoint never written
        return position

    monkeypatch.setattr(ndjson.TypeFiles, "sync", sync_then_die)
    with pytest.raises(WorkerDied):
        run_jobs(app)
    monkeypatch.setattr(ndjson.TypeFiles, "sync", real_sync)
    assert client.get(status_path(response)).status_code == 202  # still running: its lease holds
    assert run_jobs(app) == 0  # nobody takes over a job whose lease holds
    with app.extensions["jiayi.database"].session(write=True) as session:  # the lease runs out
        session.execute(text("UPDATE bulk_export_job SET lease_until = created WHERE status = 'running'"))
    assert run_jobs(app) == 1
    manifest = client.get(status_path(response)).get_json()
    exported = [p["id"] for p in download(client, manifest)["Patient"]]
    assert sorted(exported) == sorted(ids)  # each once: nothing lost, nothing twice
    assert len(manifest["output"]) > 1  # the files were split, and resumed across a split
