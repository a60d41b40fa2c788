"""The Bulk Data export jobs (FHIR Bulk Data Access IG 2.0.0): one row per kick-off.

A row is the whole state of a job, so that any process can answer its status URL and any
worker can continue it: the request as parsed at kick-off, who asked (to apply the same access
control in the worker), where the worker got to (``progress``: the type being written, the
last id written, the open file and its size, the finished files) and the worker's lease.  A
worker that dies stops renewing its lease; another claims the job when the lease has run out
and continues from ``progress``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.storage.models import Base

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = "queued", "running", "completed", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)


class ExportJobRow(Base):
    __tablename__ = "bulk_export_job"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client: Mapped[str] = mapped_column(String(200), nullable=False)  # who may poll it (token subject/client)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    request: Mapped[dict] = mapped_column(JSON, nullable=False)  # the parsed kick-off (bulk.kickoff)
    principal: Mapped[dict] = mapped_column(JSON, nullable=False)  # scopes and context of the token
    transaction_time: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)  # UTC
    created: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    progress: Mapped[dict] = mapped_column(JSON, nullable=False)  # bulk.runner.Progress as JSON
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the lease holder
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why a failed job failed

    __table_args__ = (
        Index("ix_bulk_export_job_status", "status", "lease_until"),
        Index("ix_bulk_export_job_client", "client", "status"),
    )
