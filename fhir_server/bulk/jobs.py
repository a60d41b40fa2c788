"""The export jobs as database rows (:class:`fhir_server.storage.export_jobs.ExportJobRow`).

Every change of a job is one short transaction whose ``WHERE`` says what the change assumes
(the job is still queued, the lease is still ours, it was not cancelled meanwhile), so several
workers on several machines coordinate through the database alone (SPEC §7): a claim, a
checkpoint or a completion that finds the row changed affects nothing and the caller backs off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import parse_scopes
from fhir_server.bulk.kickoff import ExportRequest
from fhir_server.storage.db import Database
from fhir_server.storage.export_jobs import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    ExportJobRow,
)

J = ExportJobRow


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    client: str
    status: str
    request: ExportRequest
    principal: Principal
    transaction_time: datetime
    progress: dict
    lease_until: datetime | None = None
    expires: datetime | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: ExportJobRow) -> Job:
        return cls(row.id, row.client, row.status, ExportRequest.from_json(row.request),
                   principal_from_json(row.principal), row.transaction_time, dict(row.progress or {}),
                   row.lease_until, row.expires, row.error)


def principal_to_json(principal: Principal) -> dict:
    """What the worker needs to apply the kick-off token's access control later."""
    return {"subject": principal.subject, "scope": " ".join(str(s) for s in principal.scopes),
            "fhir_user": principal.fhir_user, "patient": principal.patient, "region": principal.region,
            "client_id": principal.client_id, "open": principal.open}


def principal_from_json(data: dict) -> Principal:
    return Principal(subject=data.get("subject") or "unknown", scopes=parse_scopes(data.get("scope") or ""),
                     fhir_user=data.get("fhir_user"), patient=data.get("patient"), region=data.get("region"),
                     client_id=data.get("client_id"), open=bool(data.get("open")))


def client_key(principal: Principal) -> str:
    """Whose job it is: the status URL and the files answer only to the same client."""
    return "open" if principal.open else f"{principal.client_id or ''}|{principal.subject}"[:200]


class JobStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, job_id: str, principal: Principal, request: ExportRequest, transaction_time: datetime) -> None:
        with self.database.session(write=True) as session:
            session.add(ExportJobRow(id=job_id, client=client_key(principal), status=QUEUED,
                                     request=request.to_json(), principal=principal_to_json(principal),
                                     transaction_time=transaction_time, created=utc_now(), progress={}))

    def active(self, client: str) -> int:
        with self.database.session() as session:
            return session.scalar(select(func.count()).select_from(J).where(
                J.client == client, J.status.in_(ACTIVE))) or 0

    def get(self, job_id: str) -> Job | None:
        with self.database.session() as session:
            row = session.get(J, job_id)
            return Job.from_row(row) if row is not None else None

    def claim(self, worker: str, lease: timedelta) -> Job | None:
        """The oldest job that is queued or whose worker stopped renewing its lease, now ours."""
        now = utc_now()
        claimable = or_(J.status == QUEUED, (J.status == RUNNING) & (J.lease_until < now))
        with self.database.session() as session:
            candidates = list(session.scalars(select(J.id).where(claimable).order_by(J.created).limit(5)))
        for job_id in candidates:
            with self.database.session(write=True) as session:
                won = session.connection().execute(update(J).where(J.id == job_id, claimable).values(
                    status=RUNNING, worker=worker, lease_until=now + lease)).rowcount == 1
            if won:
                return self.get(job_id)
        return None

    def checkpoint(self, job_id: str, worker: str, progress: dict, lease: timedelta) -> bool:
        """Record how far the job got and renew the lease; False: no longer ours (cancelled, taken over)."""
        return self._update(job_id, worker, progress=progress, lease_until=utc_now() + lease)

    def complete(self, job_id: str, worker: str, progress: dict, keep: timedelta) -> bool:
        now = utc_now()
        return self._update(job_id, worker, status=COMPLETED, progress=progress, finished=now, expires=now + keep,
                            lease_until=None)

    def fail(self, job_id: str, worker: str, error: str, keep: timedelta) -> bool:
        now = utc_now()
        return self._update(job_id, worker, status=FAILED, error=error[:2000], finished=now, expires=now + keep,
                            lease_until=None)

    def cancel(self, job_id: str, client: str) -> bool:
        """Mark the client's job cancelled (a worker stops at its next checkpoint); False if there is none."""
        with self.database.session(write=True) as session:
            statement = update(J).where(J.id == job_id, J.client == client, J.status != CANCELLED)
            return session.connection().execute(statement.values(
                status=CANCELLED, expires=utc_now(), lease_until=None)).rowcount == 1

    def sweepable(self, limit: int = 20) -> list[str]:
        """Jobs whose files may go: cancelled, or finished and past their expiry."""
        now = utc_now()
        with self.database.session() as session:
            return list(session.scalars(select(J.id).where(
                J.status.in_((CANCELLED, COMPLETED, FAILED)), J.expires < now).limit(limit)))

    def remove(self, job_id: str) -> None:
        with self.database.session(write=True) as session:
            session.execute(delete(J).where(J.id == job_id))

    def _update(self, job_id: str, worker: str, **values: object) -> bool:
        with self.database.session(write=True) as session:
            statement = update(J).where(J.id == job_id, J.worker == worker, J.status == RUNNING)
            return session.connection().execute(statement.values(**values)).rowcount == 1
