"""The audit trail (SPEC §6): an AuditEvent for every read, search, write and operation that
touches a Patient compartment, refusals included.

A write's AuditEvent is stored in the write's own transaction (no change without its record);
the AuditEvents of reads and refusals are queued and stored together by a background thread,
in one transaction per ``BATCH_SIZE`` events or ``MAX_AGE`` seconds (and at exit), so auditing
costs reads little.
The content is :mod:`fhir_server.auth.audit`'s; this module decides when and what was touched.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from fhir_server.auth.audit import Audited, audit_event, patients_in, search_nodes
from fhir_server.auth.principal import Principal, local_reference
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import Repository, UnitOfWork
from fhir_server.search.registry import compartment_params
from fhir_server.search.sql.reach import OUTSIDE_COMPARTMENT

log = logging.getLogger("jiayi.audit")
MAX_ENTITIES = 100  # a search page or a Bundle names at most this many resources in one AuditEvent
BATCH_SIZE = 200  # queued AuditEvents stored in one transaction
MAX_AGE = 1.0  # seconds: a queued AuditEvent is stored at most this long (plus one flush) after its request
REFUSED = (401, 403)
_WRITES = ("create", "update")  # an AuditEvent is only ever created (or sent again unchanged)
MAX_QUEUED = 50_000  # kept in memory while the database refuses them; beyond that the oldest are dropped
_INTERACTIONS = {
    ("instance", "GET"): "read", ("vread", "GET"): "vread", ("type", "GET"): "search-type",
    ("search", "POST"): "search-type", ("compartment", "GET"): "search-type", ("system", "GET"): "search-system",
    ("type", "POST"): "create", ("instance", "PUT"): "update", ("type", "PUT"): "update",
    ("instance", "PATCH"): "patch", ("type", "PATCH"): "patch", ("instance", "DELETE"): "delete",
    ("type", "DELETE"): "delete",
}


def touches_patients(res_types: set[str]) -> bool:
    """Whether these types hold residents' data: the Patient compartment, and the types outside it
    that are limited like it (a family-doctor Contract: search/sql/reach.py)."""
    personal = compartment_params("Patient")
    return "Patient" in res_types or any(t in personal or t in OUTSIDE_COMPARTMENT for t in res_types)


class AuditTrail:
    """Stores the AuditEvents: a write's in the write's transaction, the others (reads,
    searches, refusals) queued and written together by a background thread of the process at
    most ``max_age`` seconds after the first of a batch was queued (sooner once ``batch_size``
    are waiting), and at exit.  Either way through the repository's path for server-built
    records (no validation, no write hooks, index rows picked out of the event directly): see
    docs/decisions.md, "Audit storage"."""

    def __init__(self, repo: Repository, batch_size: int = BATCH_SIZE, max_age: float = MAX_AGE,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.repo, self.batch_size, self.max_age, self.now = repo, batch_size, max_age, now
        self._queue: list[dict] = []
        self._oldest = 0.0
        self._lock = threading.Condition()
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0
        self._closed = False
        atexit.register(self._flush_at_exit)

    def record(self, uow: UnitOfWork | None, principal: Principal, audited: Audited | None) -> None:
        """In ``uow`` (a successful write), else queued."""
        if audited is None:
            return
        event = audit_event(principal, audited, self.now())
        if uow is not None:
            uow.store_server_records("AuditEvent", [(event, search_nodes(event))])
            return
        with self._lock:
            if not self._queue:
                self._oldest = time.monotonic()
            self._queue.append(event)
            if not self._closed:
                self._wake_flusher()
        if self._closed:
            self.flush()

    def _wake_flusher(self) -> None:
        """(Holding the lock.)  Start the background writer, or tell it a batch is full."""
        if self._flusher is None or self._flusher_pid != os.getpid():  # none yet, or a forked worker
            self._flusher = threading.Thread(target=self._flush_when_due, name="jiayi-audit", daemon=True)
            self._flusher_pid = os.getpid()
            self._flusher.start()
        elif len(self._queue) >= self.batch_size:
            self._lock.notify()

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Store what is queued now (one transaction); the number stored."""
        with self._lock:
            events, self._queue = self._queue, []
        if events:
            try:
                with self.repo.unit_of_work(write=True, bulk=True) as uow:
                    uow.store_server_records("AuditEvent", [(e, search_nodes(e)) for e in events])
            except Exception:
                self._requeue(events)
                raise
        return len(events)

    def _flush_when_due(self) -> None:
        """The background writer: waits until the batch is due, stores it, and ends when the
        queue is empty (the next queued event starts it again)."""
        while True:
            with self._lock:
                while self._queue and len(self._queue) < self.batch_size:
                    left = self._oldest + self.max_age - time.monotonic()
                    if left <= 0:
                        break
                    self._lock.wait(left)
                if not self._queue:
                    self._flusher = None
                    return
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the database refused: keep the events, try again later
                # the error's class only: a database error's text quotes the rows (personal data)
                log.error("storing %d AuditEvents failed (%s); retrying in %.1f s", self.pending(),
                          type(exc).__name__, self.max_age)
                time.sleep(self.max_age)

    def _requeue(self, events: list[dict]) -> None:
        with self._lock:
            kept = (events + self._queue)[-MAX_QUEUED:]
            lost = len(events) + len(self._queue) - len(kept)
            if lost:
                log.error("%d AuditEvents dropped: the database has refused them for too long", lost)
            self._queue = kept
            self._oldest = time.monotonic()

    def close(self) -> None:
        """Store what is queued (the database is about to be closed); later events are stored at once."""
        self._closed = True
        self._flush_at_exit()

    def _flush_at_exit(self) -> None:
        pending = len(self._queue)
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - the database may be gone already; say so, do not crash the exit
            log.warning("%d queued AuditEvents could not be stored at exit", pending)


def interaction(kind: str, method: str, res_id: str | None, status: int) -> str:
    if kind == "history":
        return "history-instance" if res_id else "history-type"
    if kind == "operation":
        return "operation"
    name = _INTERACTIONS.get((kind, "GET" if method == "HEAD" else method), "operation")
    return "create" if name == "update" and status == 201 else name


def residents_in(uow: UnitOfWork | None, resource: dict | None) -> list[str]:
    """The Patients ``resource`` is about (:func:`patients_in`); for a Binary whose
    ``securityContext`` is another resource (a resident's Contract or DocumentReference), that
    resource's Patients, one level, read in ``uow`` (the reach checks the same one level:
    search/sql/reach.py ``_binary``)."""
    found = patients_in(resource)
    if uow is None or not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        return found
    context = local_reference((resource.get("securityContext") or {}).get("reference"))
    if context is None or context.startswith("Patient/"):
        return found
    try:
        stored = uow.get(*context.split("/", 1))
    except Exception:  # noqa: BLE001 - a record names what is known; the request's own outcome stands
        return found
    return found + patients_in(stored.content) if stored is not None and not stored.deleted else found


def audited(request: FhirRequest, kind: str, res_type: str | None, res_id: str | None, extra: str | None,
            response: FhirResponse | None = None, status: int = 200, message: str | None = None,
            patients: list[str] | None = None, uow: UnitOfWork | None = None) -> Audited | None:
    """What the interaction touched, or None when it touched no one's record (``patients``: the
    residents whose record a refused request asked for, see :func:`residents_of`; ``uow``: where
    a Binary's securityContext is read, see :func:`residents_in`)."""
    entities: list[str] = []
    patients = list(patients or ())
    if response is not None and response.stored is not None:
        entities.append(f"{response.stored.res_type}/{response.stored.res_id}")
        patients += residents_in(uow, response.stored.content)
    elif res_type and res_id:
        entities.append(f"{res_type}/{res_id}")
    body = response.resource if response is not None else None
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        for entry in (body.get("entry") or [])[:MAX_ENTITIES]:
            resource = entry.get("resource") or {}
            if resource.get("id") and resource.get("resourceType") != "OperationOutcome":
                entities.append(f"{resource['resourceType']}/{resource['id']}")
                patients += residents_in(uow, resource)
    if kind == "compartment" and res_type == "Patient" and res_id:
        patients.append(res_id)
    types = {e.split("/", 1)[0] for e in entities} | {t for t in (res_type, extra if kind == "compartment" else None)
                                                     if t and t != "*"}
    if not patients and not touches_patients(types) and status not in REFUSED:
        return None  # touched no one's record (a refusal is recorded whatever it was for)
    name = interaction(kind, request.method, res_id, status)
    if status < 400 and name in _WRITES and types == {"AuditEvent"}:
        return None  # a client's AuditEvent is the record of itself (docs/decisions.md, "recorded once")
    query = urlencode(request.query) if name.startswith("search") else None
    return Audited(name, status, list(dict.fromkeys(entities)), list(dict.fromkeys(patients)), query, message)


def residents_of(uow: UnitOfWork, kind: str, res_type: str | None, res_id: str | None) -> list[str]:
    """The residents an instance-level request that was refused (or not found for this principal)
    asked about: its resource's Patients, read for the record only.  None known when the
    transaction can no longer read (a database error) or the path names no resident's resource."""
    if kind not in ("instance", "vread", "history", "operation") or not res_type or not res_id:
        return []
    if res_type == "Patient":
        return [res_id]
    if not touches_patients({res_type}) and res_type != "Binary":  # a Binary: its securityContext's
        return []
    try:
        stored = uow.get(res_type, res_id)
    except Exception:  # noqa: BLE001 - the request failed already; its record names what is known
        return []
    return residents_in(uow, stored.content) if stored is not None else []


def transaction_entries(request_entries: list[dict], response: FhirResponse,
                        uow: UnitOfWork | None = None) -> list[Audited]:
    """One Audited per written entry of a transaction (the response's locations, the bodies' patients)."""
    out = []
    responses = (response.resource or {}).get("entry") or []
    for entry, answer in zip(request_entries, responses, strict=False):
        method = ((entry.get("request") or {}).get("method") or "").upper()
        location = ((answer or {}).get("response") or {}).get("location") or ""
        if method == "GET" or "/" not in location:
            continue
        reference = "/".join(location.split("/_history")[0].split("/")[-2:])
        resource = entry.get("resource")
        patients = residents_in(uow, resource) + (
            [reference.split("/", 1)[1]] if reference.startswith("Patient/") else [])
        res_type = reference.split("/", 1)[0]
        if res_type != "AuditEvent" and (patients or touches_patients({res_type})):
            status = int(str(answer["response"].get("status", "200")).split()[0])
            name = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "operation")
            out.append(Audited("create" if status == 201 else name, status, [reference], list(dict.fromkeys(patients))))
    return out


def unauthenticated(method: str, route_kind: str | None, res_type: str | None, res_id: str | None,
                    reason: str) -> Audited:
    """A request refused before it had a principal (401): the interaction and resource its path
    asked for (``route_kind`` None: a path that names no interaction), and why it was refused."""
    entities = [f"{res_type}/{res_id}"] if res_type and res_id else []
    patients = [res_id] if res_type == "Patient" and res_id else []
    name = interaction(route_kind, method, res_id, 401) if route_kind else "operation"
    return Audited(name, 401, entities, patients, message=reason)
