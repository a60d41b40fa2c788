"""The statements of the subscription outbox (tables in :mod:`.subscription_tables`).

Plain rows, nothing about FHIR: the subscriptions package decides what a row means.  Every
function runs in the caller's session, so an enqueue commits or rolls back with the write
that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from fhir_server.storage.models import ResourceRow, ResourceVersionRow
from fhir_server.storage.subscription_tables import OutboxRow, SubscriptionStateRow

_INSERT = insert(OutboxRow)


def enqueue(session: Session, rows: list[dict]) -> None:
    """Notifications to deliver: dicts of subscription_id, res_type, res_id, version, created."""
    if rows:
        session.connection().execute(_INSERT, [{**r, "due": r["created"], "attempts": 0} for r in rows])


def save_owner(session: Session, subscription_id: str, owner: dict) -> None:
    updated = session.execute(update(SubscriptionStateRow).where(
        SubscriptionStateRow.subscription_id == subscription_id).values(owner=owner))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(insert(SubscriptionStateRow).values(subscription_id=subscription_id, owner=owner))


def owner_of(session: Session, subscription_id: str) -> dict | None:
    return session.execute(select(SubscriptionStateRow.owner).where(
        SubscriptionStateRow.subscription_id == subscription_id)).scalar_one_or_none()


def subscription_with_owner(session: Session, subscription_id: str) -> tuple | None:
    """(version, last_updated, deleted, content, owner) of a Subscription's current row and its
    recorded owner, in one query; None when there is no such row."""
    state = SubscriptionStateRow
    row = session.execute(
        select(ResourceRow.version, ResourceRow.last_updated, ResourceRow.deleted, ResourceRow.content, state.owner)
        .outerjoin(state, state.subscription_id == ResourceRow.res_id)
        .where(ResourceRow.res_type == "Subscription", ResourceRow.res_id == subscription_id)).first()
    return tuple(row) if row is not None else None


def due_subscriptions(session: Session, now: datetime, limit: int = 100) -> list[str]:
    """Subscriptions with a notification due (a failed head row postpones all of its rows)."""
    query = (select(OutboxRow.subscription_id).where(OutboxRow.due <= now)
             .group_by(OutboxRow.subscription_id).limit(limit))
    return [r[0] for r in session.execute(query)]


def take_lease(session: Session, subscription_id: str, holder: str, now: datetime, until: datetime) -> bool:
    """The right to deliver ``subscription_id`` until ``until``, unless another holder has it."""
    state = SubscriptionStateRow
    taken = session.execute(update(state).where(
        state.subscription_id == subscription_id,
        or_(state.lease_until.is_(None), state.lease_until < now, state.lease_holder == holder),
    ).values(lease_holder=holder, lease_until=until))
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    exists = session.execute(select(state.subscription_id).where(state.subscription_id == subscription_id)).first()
    if exists:
        return False
    session.execute(insert(state).values(subscription_id=subscription_id, lease_holder=holder, lease_until=until))
    return True


def release_lease(session: Session, subscription_id: str, holder: str) -> None:
    session.execute(update(SubscriptionStateRow).where(
        SubscriptionStateRow.subscription_id == subscription_id, SubscriptionStateRow.lease_holder == holder,
    ).values(lease_holder=None, lease_until=None))


def head(session: Session, subscription_id: str, limit: int) -> list[tuple[OutboxRow, dict | None]]:
    """The subscription's oldest rows, in order, each with the content of the version it is about
    (None when that version is gone or was a delete): one query for a whole batch."""
    version = ResourceVersionRow
    query = (select(OutboxRow, version.content)
             .outerjoin(version, and_(version.res_type == OutboxRow.res_type, version.res_id == OutboxRow.res_id,
                                      version.version == OutboxRow.version))
             .where(OutboxRow.subscription_id == subscription_id).order_by(OutboxRow.seq).limit(limit))
    return [(row, content) for row, content in session.execute(query)]


def delivered(session: Session, seqs: Iterable[int]) -> None:
    seqs = list(seqs)
    if seqs:
        session.execute(delete(OutboxRow).where(OutboxRow.seq.in_(seqs)))


def postpone(session: Session, subscription_id: str, seq: int, due: datetime, attempts: int,
             first_failure: datetime, error: str) -> None:
    """The head row failed: its attempt count and error, and every row of the subscription waits until ``due``."""
    session.execute(update(OutboxRow).where(OutboxRow.seq == seq).values(
        attempts=attempts, first_failure=first_failure, last_error=error[:2000]))
    session.execute(update(OutboxRow).where(OutboxRow.subscription_id == subscription_id).values(due=due))


def resume(session: Session, subscription_id: str, now: datetime) -> None:
    """Reactivated: what is still waiting is due now, with a fresh retry period."""
    session.execute(update(OutboxRow).where(OutboxRow.subscription_id == subscription_id).values(
        due=now, attempts=0, first_failure=None))


def pending(session: Session, subscription_id: str) -> int:
    from sqlalchemy import func

    return session.execute(select(func.count()).select_from(OutboxRow).where(
        OutboxRow.subscription_id == subscription_id)).scalar_one()


def forget(session: Session, subscription_id: str) -> None:
    """A deleted subscription: its rows and state go."""
    session.execute(delete(OutboxRow).where(OutboxRow.subscription_id == subscription_id))
    session.execute(delete(SubscriptionStateRow).where(SubscriptionStateRow.subscription_id == subscription_id))
