"""A worker that dies in the middle of an export (issue 20): the next worker continues from the
last checkpoint, and every resource is in the files exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from bulk_support import KICKOFF, download, run_jobs, since_now, status_path
from sqlalchemy import text

from fhir_server.app import create_app
from fhir_server.bulk import ndjson
from fhir_server.bulk.runner import ExportRunner


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


def test_a_job_cancelled_while_it_runs_stops_at_its_next_checkpoint_and_its_files_go(app, monkeypatch):
    client = app.test_client()
    since = since_now()
    for _ in range(10):
        client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"})
    response = client.get(f"/fhir/$export?_type=Patient&_since={since}", headers=KICKOFF)
    job_id = status_path(response).rsplit("/", 1)[1]
    real_sync = ndjson.TypeFiles.sync

    def cancel_then_sync(self):
        client.delete(status_path(response))  # the client cancels while the worker writes
        return real_sync(self)

    monkeypatch.setattr(ndjson.TypeFiles, "sync", cancel_then_sync)
    runner = ExportRunner(app.extensions["jiayi.database"], app.config["JIAYI"])
    assert runner.step()  # the job ran until its checkpoint found it cancelled
    assert client.get(status_path(response)).status_code == 404
    folder = runner.folder.of(job_id)
    assert folder.exists()
    runner.sweep(force=True)
    assert not folder.exists() and runner.store.get(job_id) is None


def test_a_worker_shutting_down_hands_its_job_back_at_the_checkpoint(app, monkeypatch):
    client = app.test_client()
    since = since_now()
    ids = [client.post("/fhir/Patient", json={"resourceType": "Patient"}).get_json()["id"] for _ in range(9)]
    response = client.get(f"/fhir/$export?_type=Patient&_since={since}", headers=KICKOFF)
    stopping = ExportRunner(app.extensions["jiayi.database"], app.config["JIAYI"])
    real_sync = ndjson.TypeFiles.sync

    def sync_then_sigterm(self):
        stopping.stopping.set()  # SIGTERM arrives while the first page is written
        return real_sync(self)

    monkeypatch.setattr(ndjson.TypeFiles, "sync", sync_then_sigterm)
    assert stopping.step()
    monkeypatch.setattr(ndjson.TypeFiles, "sync", real_sync)
    assert client.get(status_path(response)).status_code == 202
    assert run_jobs(app) == 1  # no lease to wait for: the next worker continues at once
    manifest = client.get(status_path(response)).get_json()
    assert sorted(p["id"] for p in download(client, manifest)["Patient"]) == sorted(ids)


def test_the_background_runs_several_exports_at_once(app):
    """``fhir_server.background``: the threads ``jiayi serve`` and ``jiayi worker`` start."""
    import time
    from dataclasses import replace

    from fhir_server.background import Background

    client = app.test_client()
    since = since_now()
    for _ in range(12):
        client.post("/fhir/Patient", json={"resourceType": "Patient"})
    statuses = [status_path(client.get(f"/fhir/$export?_type=Patient&_since={since}", headers=KICKOFF))
                for _ in range(2)]  # JIAYI_EXPORT_JOBS_PER_CLIENT: 2
    settings = replace(app.config["JIAYI"], export_workers=2, export_pause=0.05)
    background = Background(app.extensions["jiayi.database"], settings).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(client.get(s).status_code == 202 for s in statuses):
            time.sleep(0.1)
    finally:
        background.stop()
    assert len(background.threads) == 2
    assert all(sum(o["count"] for o in client.get(s).get_json()["output"]) == 12 for s in statuses)
