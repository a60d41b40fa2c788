"""Bulk Data export against a started server with authentication on (issue 20): a provincial
platform's client kicks off with its token, polls, downloads (gzip), and an empty database loads
the files back (``jiayi load``) to equal resources.  Then a worker process is killed in the
middle of an export and another one finishes it, each resource exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from auth_support import ISSUER
from fhirpy import SyncFHIRClient

from e2e.conftest import E2E_AUDIENCE, patient_json, running_server
from fhir_server.core import jsonio
from fhir_server.repository.base import same_content
from fhir_server.repository.sql import SqlRepository
from fhir_server.storage.db import Database

pytestmark = pytest.mark.e2e
KICKOFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
WAIT = 120.0


def _since() -> str:
    moment = datetime.now(UTC) - timedelta(milliseconds=5)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _district(fhir: SyncFHIRClient, unique: str, residents: int) -> list[str]:
    """Residents, each with a blood-pressure Observation and a follow-up Encounter, in one transaction."""
    entries = []
    for n in range(residents):
        ref = f"urn:uuid:{unique}-{n:04d}-0000-0000-000000000000"
        entries.append({"fullUrl": ref, "resource": patient_json(f"{unique}{n:04d}"),
                        "request": {"method": "POST", "url": "Patient"}})
        entries.append({"resource": {"resourceType": "Observation", "status": "final",
                                     "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                                     "subject": {"reference": ref}, "valueQuantity": {"value": 135.50, "unit": "mmHg"}},
                        "request": {"method": "POST", "url": "Observation"}})
        entries.append({"resource": {"resourceType": "Encounter", "status": "finished",
                                     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                               "code": "HH"}, "subject": {"reference": ref}},
                        "request": {"method": "POST", "url": "Encounter"}})
    response = fhir.execute("", method="post", data={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    return [e["response"]["location"].split("Patient/")[1].split("/")[0] for e in response["entry"][::3]]


def _wait_for_manifest(session: requests.Session, status_url: str) -> dict:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status = session.get(status_url, timeout=30)
        if status.status_code == 200:
            return status.json()
        assert status.status_code == 202, status.text
        assert status.headers["X-Progress"] and status.headers["Retry-After"]
        time.sleep(0.3)
    pytest.fail(f"the export at {status_url} did not finish in {WAIT:.0f} s")


def _download(session: requests.Session, manifest: dict, folder: Path) -> dict[str, list[dict]]:
    folder.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[dict]] = {}
    for output in manifest["output"]:
        response = session.get(output["url"], headers={"Accept-Encoding": "gzip"}, timeout=60)
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Type"].startswith("application/fhir+ndjson")
        (folder / output["url"].rsplit("/", 1)[1]).write_bytes(response.content)  # requests un-gzips
        lines = [jsonio.loads(line) for line in response.content.splitlines()]
        assert len(lines) == output["count"]
        found.setdefault(output["type"], []).extend(lines)
    return found


def test_export_with_a_token_and_load_it_back_into_an_empty_server(server, unique, tmp_path):
    fhir = SyncFHIRClient(server, requests_config={"timeout": 60})
    since = _since()
    residents = _district(fhir, unique, 40)
    session = requests.Session()
    kickoff = session.get(f"{server}/$export", params={"_since": since, "_type": "Patient,Observation,Encounter"},
                          headers=KICKOFF, timeout=30)
    assert kickoff.status_code == 202, kickoff.text
    manifest = _wait_for_manifest(session, kickoff.headers["Content-Location"])
    assert manifest["requiresAccessToken"] is True
    found = _download(session, manifest, tmp_path / "export")
    assert sorted(p["id"] for p in found["Patient"]) == sorted(residents)
    assert len(found["Observation"]) == len(found["Encounter"]) == 40
    assert requests.get(manifest["output"][0]["url"], headers={"Authorization": "Bearer nonsense"},
                        timeout=30).status_code == 401

    empty = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    loaded = subprocess.run([sys.executable, "-m", "fhir_server.cli", "load", str(tmp_path / "export"),
                             "--database", empty], capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert "Patient 40" in loaded.stdout
    database = Database(empty)
    try:
        with SqlRepository(database).unit_of_work() as uow:
            for resources in found.values():
                for resource in resources:
                    stored = uow.get(resource["resourceType"], resource["id"])
                    assert stored is not None and same_content(stored.content or {}, resource)
    finally:
        database.dispose()


def test_a_killed_worker_s_export_is_finished_by_the_next(e2e_issuer, tmp_path):
    """``jiayi serve`` without its own background thread, and ``jiayi worker`` processes beside it."""
    database = f"sqlite:///{tmp_path / 'jiayi.sqlite3'}"
    exports = tmp_path / "exports"
    environment = {"JIAYI_AUTH_JWKS": str(e2e_issuer.jwks_path), "JIAYI_AUTH_ISSUER": ISSUER,
                   "JIAYI_AUTH_AUDIENCE": E2E_AUDIENCE, "JIAYI_BACKGROUND_THREAD": "0",
                   "JIAYI_EXPORT_DIR": str(exports), "JIAYI_EXPORT_PAGE": "25", "JIAYI_EXPORT_PAUSE": "0.2",
                   "JIAYI_EXPORT_LEASE": "2", "JIAYI_EXPORT_FILE_BYTES": "20000"}
    token = e2e_issuer.token("system/*.cruds", lifetime=3600, client_id="province")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    with running_server(database, tmp_path, environment=environment) as base:
        fhir = SyncFHIRClient(base, authorization=f"Bearer {token}", requests_config={"timeout": 60})
        residents = _district(fhir, "k" + os.urandom(4).hex(), 120)
        kickoff = session.get(f"{base}/$export?_type=Patient", headers=KICKOFF, timeout=30)
        assert kickoff.status_code == 202
        status_url = kickoff.headers["Content-Location"]
        first = _worker(database, environment, tmp_path / "worker-1.log")
        try:
            _wait_for_progress(session, status_url)
            os.kill(first.pid, signal.SIGKILL)  # no goodbye: the lease simply stops being renewed
            first.wait(30)
            assert session.get(status_url, timeout=30).status_code == 202
            second = _worker(database, environment, tmp_path / "worker-2.log")
            try:
                manifest = _wait_for_manifest(session, status_url)
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(30)
        found = _download(session, manifest, tmp_path / "files")
        exported = [p["id"] for p in found["Patient"]]
        assert len(exported) == len(set(exported)) and set(residents) <= set(exported)
        assert len(manifest["output"]) > 1


def _worker(database: str, environment: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "worker", "--database", database],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **environment})


def _wait_for_progress(session: requests.Session, status_url: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        progress = session.get(status_url, timeout=30).headers.get("X-Progress", "")
        if progress and not progress.startswith(("queued", "0 ")):
            return
        time.sleep(0.1)
    pytest.fail("the first worker never started the export")
