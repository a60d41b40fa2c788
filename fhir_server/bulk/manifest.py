"""The status URL's answers (Bulk Data IG 2.0.0 "Bulk Data Status Request").

- in progress: 202 with ``X-Progress`` (what is written so far) and ``Retry-After``;
- complete: 200 with the manifest: ``transactionTime``, ``request``, ``requiresAccessToken``,
  ``output`` (``type``, ``url``, ``count`` per file) and ``error`` (OperationOutcome NDJSON);
- failed: 500 with an OperationOutcome; unknown, cancelled or expired: 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from fhir_server.bulk.files import ERRORS
from fhir_server.bulk.jobs import Job, utc_now
from fhir_server.core.errors import FHIRError, NotFound
from fhir_server.core.instants import fhir_instant, http_date
from fhir_server.storage.export_jobs import COMPLETED, FAILED, QUEUED

RETRY_AFTER_SECONDS = 2


@dataclass(slots=True)
class StatusAnswer:
    status: int
    manifest: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)


def status_url(base_url: str, job_id: str) -> str:
    return f"{base_url}/$export-status/{job_id}"


def file_url(base_url: str, job_id: str, name: str) -> str:
    return f"{base_url}/$export-file/{job_id}/{quote(name)}"


def answer(job: Job | None, base_url: str) -> StatusAnswer:
    if job is None or (job.expires is not None and job.expires < utc_now()) or job.status not in (
            QUEUED, "running", COMPLETED, FAILED):
        raise NotFound("No such export: it never existed, was cancelled, or its files have expired")
    if job.status == FAILED:
        raise FHIRError(f"The export failed: {job.error or 'see the server log'}", status=500, code="exception")
    if job.status != COMPLETED:
        return StatusAnswer(202, headers={"X-Progress": progress_text(job), "Retry-After": str(RETRY_AFTER_SECONDS)})
    return StatusAnswer(200, manifest(job, base_url),
                        headers={"Expires": http_date(job.expires)} if job.expires else {})


def progress_text(job: Job) -> str:
    p = job.progress
    if job.status == QUEUED or not p:
        return "queued"
    types = p.get("types") or []
    index = min(p.get("index", 0), len(types))
    current = f", writing {types[index]}" if index < len(types) else ""
    return f"{p.get('written', 0)} resources written, type {index + 1 if current else index} of {len(types)}{current}"


def manifest(job: Job, base_url: str) -> dict:
    p = job.progress
    return {
        "transactionTime": fhir_instant(job.transaction_time),
        "request": job.request.request_url,
        "requiresAccessToken": not job.principal.open,  # a token asked: the same token downloads
        "output": [{"type": res_type, "url": file_url(base_url, job.id, name), "count": count}
                   for res_type, name, count in p.get("files", [])],
        "error": [{"type": ERRORS, "url": file_url(base_url, job.id, name), "count": count}
                  for name, count in p.get("errors", [])],
    }
