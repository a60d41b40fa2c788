"""The subscription outbox and each subscription's delivery state (SPEC §4 "Subscriptions", §7).

``subscription_outbox`` is the durable queue: one row per notification, written in the
transaction of the write that caused it, deleted once delivered.  ``seq`` orders each
subscription's rows (delivered in that order); ``due`` is the next attempt.
``subscription_state`` holds who created the subscription (the principal whose reach limits
what it sees) and the lease one delivery worker holds on it, so that several processes
deliver one subscription's rows in order and never twice at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.storage.models import Base, Document, Sequence64


class OutboxRow(Base):
    __tablename__ = "subscription_outbox"

    seq: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(64), nullable=False)
    res_type: Mapped[str] = mapped_column(String(64), nullable=False)
    res_id: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)  # UTC
    due: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)  # next attempt, UTC
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_failure: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_subscription_outbox_subscription", "subscription_id", "seq"),
        Index("ix_subscription_outbox_due", "due"),
    )


class SubscriptionStateRow(Base):
    __tablename__ = "subscription_state"

    subscription_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[dict | None] = mapped_column(Document, nullable=True)  # the creating principal
    lease_holder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), nullable=True)
