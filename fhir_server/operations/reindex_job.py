"""``$reindex`` at type and system level as a background job (issue 18).

Rebuilding every index row of a district takes minutes; inside a request it held a worker
(and, on SQLite, the write lock) for all of it.  The request now answers 202 with an
OperationOutcome naming the job, and a thread rebuilds one resource type per transaction,
so writers wait at most one type's turn.  A single resource (``Patient/1/$reindex``) is
still reindexed at once.  The job lives in the process that accepted it: if the process
stops, run ``$reindex`` again (it is idempotent).  Only ``system/`` tokens may start it
once access control lands.
"""

from __future__ import annotations

import logging
import threading
import uuid

from fhir_server.core.errors import Issue, operation_outcome
from fhir_server.definitions.structures import structures
from fhir_server.interactions.common import require_type
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations import search_operations
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import Repository, UnitOfWork

log = logging.getLogger("jiayi.reindex")


class BackgroundReindex:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.jobs: dict[str, threading.Thread] = {}  # job id → thread (tests wait on it)

    def operation(self) -> Operation:
        return Operation("reindex", self.handle, search_operations.JIAYI_OPERATION + "reindex", system=True,
                         type_level=True, instance=True, affects_state=True)

    def handle(self, uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
        if res_id:
            return search_operations.reindex(uow, request, res_type, res_id)
        if res_type:
            require_type(res_type)
        job = uuid.uuid4().hex[:12]

        def start_after_commit() -> None:
            self.start(job, res_type)

        uow.after_commit(start_after_commit)
        scope = res_type or "every resource type"
        message = (f"Reindexing {scope} runs in the background (job {job}); searches see the rebuilt rows "
                   "as each resource type completes, and the server log reports the end")
        return FhirResponse(202, operation_outcome([Issue("informational", message, severity="information")]))

    def start(self, job: str, res_type: str | None) -> threading.Thread:
        thread = threading.Thread(target=self._run, args=(job, res_type), name=f"reindex-{job}", daemon=True)
        self.jobs[job] = thread
        thread.start()
        return thread

    def _run(self, job: str, res_type: str | None) -> None:
        types = [res_type] if res_type else list(structures().resource_types)
        count = 0
        try:
            for one_type in types:
                count += self.repository.reindex(one_type)
        except Exception:
            log.exception("reindex job %s failed after %d resource(s)", job, count)
            return
        log.info("reindex job %s done: %d resource(s) of %s", job, count, res_type or "every type")
