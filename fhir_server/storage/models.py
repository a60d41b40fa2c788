"""What is on disk: the current version of every resource and its append-only history.

Nothing here knows FHIR beyond "a typed, identified, versioned JSON document".  Search index
tables live beside these in :mod:`fhir_server.storage.index_tables`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSONB on PostgreSQL (indexable, compact); JSON text on SQLite.
Document = JSON().with_variant(JSONB(), "postgresql")
# SQLite has no BIGINT autoincrement; INTEGER PRIMARY KEY is its 64-bit rowid.
Sequence64 = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class ResourceRow(Base):
    """The current version of a resource; a deleted resource keeps its row with ``deleted`` set."""

    __tablename__ = "resource"

    res_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    res_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    last_updated: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)  # UTC
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    content: Mapped[dict | None] = mapped_column(Document, nullable=True)  # None once deleted

    __table_args__ = (
        Index("ix_resource_type_updated", "res_type", "last_updated"),
        # a search's keys and default order without reading the rows that hold the documents (0008_search)
        Index("ix_resource_key_updated", "res_type", "res_id", "deleted", "last_updated"),
    )


class ResourceVersionRow(Base):
    """One row per version ever written (create, update, patch, delete): the history.

    ``seq`` orders every write of the whole server, so system history and ``_since`` are a
    range scan; rows are never updated or deleted.
    """

    __tablename__ = "resource_version"

    seq: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    res_type: Mapped[str] = mapped_column(String(64), nullable=False)
    res_id: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    last_updated: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    method: Mapped[str] = mapped_column(String(8), nullable=False)  # POST | PUT | PATCH | DELETE
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    content: Mapped[dict | None] = mapped_column(Document, nullable=True)

    __table_args__ = (
        UniqueConstraint("res_type", "res_id", "version", name="uq_resource_version"),
        Index("ix_resource_version_updated", "last_updated"),
        Index("ix_resource_version_type_updated", "res_type", "last_updated"),
    )


class CounterRow(Base):
    """Maintained state a write rule reads instead of counting resources on every write: a
    number per (``scope``, ``bucket``), changed by the writes that move it, in their own
    transaction (e.g. a team's executed contracts per month their term ends)."""

    __tablename__ = "rule_counter"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


class KeptReportRow(Base):
    """A whole-district MeasureReport summary kept for callers that accept an older answer
    (``familydoctor/measures/kept.py``): shared by the serving processes and kept across restarts."""

    __tablename__ = "kept_measure_report"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha-256 of (measure, period, population, reach)
    stamp: Mapped[str | None] = mapped_column(String(2000), nullable=True)  # the district's data it counted
    seen: Mapped[float] = mapped_column(Float, nullable=False)  # epoch seconds the data were last seen so
    report: Mapped[dict] = mapped_column(Document, nullable=False)

    __table_args__ = (Index("ix_kept_measure_report_seen", "seen"),)
