"""Helpers of the Bulk Data export tests: kick-off headers, running the queued jobs in the test
process, reading a manifest's files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fhir_server.bulk.runner import ExportRunner
from fhir_server.core import jsonio

KICKOFF = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def since_now() -> str:
    """A ``_since`` just before now: the export then holds only what the test writes after it."""
    moment = datetime.now(UTC) - timedelta(milliseconds=5)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def run_jobs(app) -> int:
    """Run every queued export in this process (what a worker does); the number run."""
    runner = ExportRunner(app.extensions["jiayi.database"], app.config["JIAYI"])
    ran = 0
    while runner.step():
        ran += 1
    return ran


def status_path(response) -> str:
    location = response.headers["Content-Location"]
    return location[location.index("/fhir/"):]


def download(client, manifest: dict, headers: dict | None = None) -> dict[str, list[dict]]:
    """type → the resources of its files, in file order."""
    found: dict[str, list[dict]] = {}
    for output in manifest["output"]:
        url = output["url"]
        response = client.get(url[url.index("/fhir/"):], headers=headers or {})
        assert response.status_code == 200, response.data[:300]
        data = response.data
        response.close()  # a file response holds the file open until closed
        lines = [jsonio.loads(line) for line in data.splitlines() if line]
        assert len(lines) == output["count"]
        found.setdefault(output["type"], []).extend(lines)
    return found


def fetch(client, url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET a file URL of a manifest: status, headers, body (the response closed)."""
    response = client.get(url[url.index("/fhir/"):], headers=headers or {})
    data = response.data
    response.close()
    return response.status_code, dict(response.headers), data
