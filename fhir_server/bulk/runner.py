"""A worker's side of an export: claim a job, write its types page by page, checkpoint, finish.

The job's ``progress`` (a JSON object on its row) is the whole state: the types to write
(fixed when the job starts), the index of the current type, the last id written, the position
of the open file (:class:`fhir_server.bulk.ndjson.Position`) and the finished files.  It is
recorded after every page, once the page's lines are on disk, in the same statement that renews
the lease.  A worker that dies leaves a job whose lease runs out; the next worker to claim it
continues from the checkpoint: the file is cut back to the recorded size and the next page
starts after the recorded id, so no line is lost or written twice.

Memory stays flat: one page of rows (``JIAYI_EXPORT_PAGE``) at a time, whatever the export's size.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta

from fhir_server import search
from fhir_server.auth.access import grant
from fhir_server.auth.scopes import SEARCH
from fhir_server.bulk import selection
from fhir_server.bulk.files import ERRORS, ExportFolder
from fhir_server.bulk.jobs import Job, JobStore
from fhir_server.bulk.kickoff import SYSTEM
from fhir_server.bulk.ndjson import Position, TypeFiles, line
from fhir_server.config import Settings
from fhir_server.core import jsonio
from fhir_server.core.errors import Issue, operation_outcome
from fhir_server.storage.db import Database

log = logging.getLogger("jiayi.export")
SWEEP_EVERY = 60.0  # seconds between looks for expired and cancelled exports


class Stopped(Exception):
    """The job is no longer this worker's: cancelled, or taken over after the lease ran out."""


class ExportRunner:
    """One of the background runners (:mod:`fhir_server.background`): ``step`` runs one job."""

    name = "bulk-export"

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.store = JobStore(database)
        self.folder = ExportFolder(settings.export_dir)
        self.lease = timedelta(seconds=settings.export_lease)
        self._swept = 0.0

    def step(self) -> bool:
        """Claim one job and run it to its end; False when there was none to claim."""
        self.sweep()
        token = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"  # this claim's lease
        job = self.store.claim(token, self.lease)
        if job is None:
            return False
        self.run(job, token)
        return True

    def run(self, job: Job, token: str) -> None:
        try:
            _Export(self, job, token).run()
        except Stopped:
            log.info("export %s stopped (cancelled or taken over)", job.id)
        except Exception as exc:  # noqa: BLE001 - the job fails, the worker goes on
            log.exception("export %s failed", job.id)
            self.store.fail(job.id, token, f"{type(exc).__name__}: the export could not be written; "
                            "see the server log", timedelta(seconds=self.settings.export_expiry))

    def sweep(self, force: bool = False) -> None:
        """Remove the files and rows of expired and cancelled exports (at most once a minute)."""
        if not force and time.monotonic() - self._swept < SWEEP_EVERY:
            return
        self._swept = time.monotonic()
        for job_id in self.store.sweepable():
            self.folder.remove(job_id)
            self.store.remove(job_id)


class _Export:
    def __init__(self, runner: ExportRunner, job: Job, token: str) -> None:
        self.runner, self.job, self.token = runner, job, token
        self.settings = runner.settings
        self.folder = runner.folder.of(job.id)
        self.progress = job.progress

    def run(self) -> None:
        if not self.progress:
            self.progress = {"types": self._types(), "index": 0, "after": None, "position": None, "files": [],
                             "errors": self._notes(), "written": 0}
            self._checkpoint()
        types = self.progress["types"]
        while self.progress["index"] < len(types):
            self._write_type(types[self.progress["index"]])
        keep = timedelta(seconds=self.settings.export_expiry)
        if not self.runner.store.complete(self.job.id, self.token, self.progress, keep):
            raise Stopped()
        log.info("export %s done: %d resource(s)", self.job.id, self.progress["written"])

    def _write_type(self, res_type: str) -> None:
        granted = grant(self.job.principal, res_type, SEARCH)
        files: list[tuple[str, int]] = []
        if granted is not None:
            with self.runner.database.session() as session:
                registry = search.current_registry(session, search.REGISTRY_TTL)
            where = selection.conditions(self.job.request, res_type, granted, registry, self.job.transaction_time)
            files = self._pages(res_type, where)
        p = self.progress
        p["files"] = [*p["files"], *([res_type, name, count] for name, count in files)]
        p.update(index=p["index"] + 1, after=None, position=None)
        self._checkpoint()

    def _pages(self, res_type: str, where: list) -> list[tuple[str, int]]:
        p, size = self.progress, self.settings.export_page
        writer = TypeFiles(self.folder, res_type, self.settings.export_file_bytes, Position.from_json(p["position"]))
        try:
            while True:
                with self.runner.database.session() as session:
                    rows = selection.page(session, where, p["after"], size)
                if not rows:
                    break
                for _, text in rows:
                    writer.write(line(text))
                p.update(after=rows[-1][0], position=writer.sync().to_json(), written=p["written"] + len(rows))
                self._checkpoint()
                if len(rows) < size:
                    break
                if self.settings.export_pause:
                    time.sleep(self.settings.export_pause)
        finally:
            files = writer.close()
        return files

    def _checkpoint(self) -> None:
        if not self.runner.store.checkpoint(self.job.id, self.token, self.progress, self.runner.lease):
            raise Stopped()

    def _types(self) -> list[str]:
        request = self.job.request
        with self.runner.database.session() as session:
            present = selection.present_types(session)
        if request.level != SYSTEM:
            present = [t for t in selection.patient_compartment_types() if t in present]
        return [t for t in request.types if t in present] if request.types else present

    def _notes(self) -> list:
        """The error file (OperationOutcome NDJSON): what the export accepted but did not do."""
        issues = [Issue("not-supported", f"includeAssociatedData '{value}' is not supported; ignored",
                        severity="information") for value in self.job.request.associated]
        if not issues:
            return []
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{ERRORS}-1.ndjson"
        with open(self.folder / name, "wb") as handle:
            for issue in issues:
                handle.write(jsonio.dumps(operation_outcome([issue])) + b"\n")
        return [[name, len(issues)]]
