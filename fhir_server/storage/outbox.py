"""The statements of the subscription outbox (tables in :mod:`.subscription_tables`).

Plain rows, nothing about FHIR: the subscriptions package decides what a row means.  Every
function runs in the caller's session, so an enqueue commits or rolls back with the write
that caused it.  The delivery worker runs these for every notification beside the serving
threads, so they are built once with bound parameters and executed through Core (the
compiled-statement cache), as the repository's hot path is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import BindParameter, Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from fhir_server.storage.models import ResourceRow, ResourceVersionRow
from fhir_server.storage.subscription_tables import OutboxRow, SubscriptionStateRow

_OUT = cast(Table, OutboxRow.__table__)
_STATE = cast(Table, SubscriptionStateRow.__table__)
_VERSION = cast(Table, ResourceVersionRow.__table__)
_SUB: BindParameter[str] = bindparam("sub")

_INSERT = insert(_OUT)
_SAVE_OWNER = update(_STATE).where(_STATE.c.subscription_id == _SUB).values(owner=bindparam("b_owner"))
_NEW_STATE = insert(_STATE)
_OWNER = select(_STATE.c.owner).where(_STATE.c.subscription_id == _SUB)
_WITH_OWNER = (
    select(ResourceRow.version, ResourceRow.last_updated, ResourceRow.deleted, ResourceRow.content, _STATE.c.owner)
    .outerjoin(_STATE, _STATE.c.subscription_id == ResourceRow.res_id)
    .where(ResourceRow.res_type == "Subscription", ResourceRow.res_id == _SUB))
_DUE = select(_OUT.c.subscription_id).where(_OUT.c.due <= bindparam("now")).group_by(
    _OUT.c.subscription_id).limit(bindparam("limit"))
_TAKE = update(_STATE).where(
    _STATE.c.subscription_id == _SUB,
    or_(_STATE.c.lease_until.is_(None), _STATE.c.lease_until < bindparam("now"),
        _STATE.c.lease_holder == bindparam("holder")),
).values(lease_holder=bindparam("holder"), lease_until=bindparam("until"))
_STATE_EXISTS = select(_STATE.c.subscription_id).where(_STATE.c.subscription_id == _SUB)
_RELEASE = update(_STATE).where(_STATE.c.subscription_id == _SUB, _STATE.c.lease_holder == bindparam("holder")).values(
    lease_holder=None, lease_until=None)
_HEAD = (
    select(_OUT.c.seq, _OUT.c.res_type, _OUT.c.res_id, _OUT.c.version, _OUT.c.due, _OUT.c.attempts,
           _OUT.c.first_failure, _VERSION.c.content)
    .outerjoin(_VERSION, and_(_VERSION.c.res_type == _OUT.c.res_type, _VERSION.c.res_id == _OUT.c.res_id,
                              _VERSION.c.version == _OUT.c.version))
    .where(_OUT.c.subscription_id == _SUB).order_by(_OUT.c.seq).limit(bindparam("limit")))
_DELIVERED = delete(_OUT).where(_OUT.c.seq.in_(bindparam("seqs", expanding=True)))
_FAILED = update(_OUT).where(_OUT.c.seq == bindparam("b_seq")).values(
    attempts=bindparam("b_attempts"), first_failure=bindparam("b_first"), last_error=bindparam("b_error"))
_POSTPONE = update(_OUT).where(_OUT.c.subscription_id == _SUB).values(due=bindparam("b_due"))
_RESUME = update(_OUT).where(_OUT.c.subscription_id == _SUB).values(due=bindparam("now"), attempts=0,
                                                                      first_failure=None)
_PENDING = select(func.count()).select_from(_OUT).where(_OUT.c.subscription_id == _SUB)
_FORGET_ROWS = delete(_OUT).where(_OUT.c.subscription_id == _SUB)
_FORGET_STATE = delete(_STATE).where(_STATE.c.subscription_id == _SUB)


class Queued(NamedTuple):
    """One waiting notification, with the content of the version it is about (None when that
    version is gone)."""

    seq: int
    res_type: str
    res_id: str
    version: int
    due: datetime
    attempts: int
    first_failure: datetime | None
    content: dict | None


def enqueue(session: Session, rows: list[dict]) -> None:
    """Notifications to deliver: dicts of subscription_id, res_type, res_id, version, created."""
    if rows:
        session.connection().execute(_INSERT, [{**r, "due": r["created"], "attempts": 0} for r in rows])


def save_owner(session: Session, subscription_id: str, owner: dict) -> None:
    connection = session.connection()
    if connection.execute(_SAVE_OWNER, {"sub": subscription_id, "b_owner": owner}).rowcount == 0:
        connection.execute(_NEW_STATE, {"subscription_id": subscription_id, "owner": owner})


def owner_of(session: Session, subscription_id: str) -> dict | None:
    return session.connection().execute(_OWNER, {"sub": subscription_id}).scalar_one_or_none()


def subscription_with_owner(session: Session, subscription_id: str) -> tuple | None:
    """(version, last_updated, deleted, content, owner) of a Subscription's current row and its
    recorded owner, in one query; None when there is no such row."""
    row = session.connection().execute(_WITH_OWNER, {"sub": subscription_id}).first()
    return tuple(row) if row is not None else None


def due_subscriptions(session: Session, now: datetime, limit: int = 100) -> list[str]:
    """Subscriptions with a notification due (a failed head row postpones all of its rows)."""
    return [r[0] for r in session.connection().execute(_DUE, {"now": now, "limit": limit})]


def take_lease(session: Session, subscription_id: str, holder: str, now: datetime, until: datetime) -> bool:
    """The right to deliver ``subscription_id`` until ``until``, unless another holder has it."""
    connection = session.connection()
    values = {"sub": subscription_id, "holder": holder, "now": now, "until": until}
    if connection.execute(_TAKE, values).rowcount == 1:
        return True
    if connection.execute(_STATE_EXISTS, values).first():
        return False
    connection.execute(_NEW_STATE, {"subscription_id": subscription_id, "lease_holder": holder,
                                    "lease_until": until})
    return True


def release_lease(session: Session, subscription_id: str, holder: str) -> None:
    session.connection().execute(_RELEASE, {"sub": subscription_id, "holder": holder})


def head(session: Session, subscription_id: str, limit: int) -> list[Queued]:
    """The subscription's oldest rows, in order, each with its version's content: one query."""
    return [Queued(*row) for row in session.connection().execute(_HEAD, {"sub": subscription_id, "limit": limit})]


def delivered(session: Session, seqs: Iterable[int]) -> None:
    seqs = list(seqs)
    if seqs:
        session.connection().execute(_DELIVERED, {"seqs": seqs})


def postpone(session: Session, subscription_id: str, seq: int, due: datetime, attempts: int,
             first_failure: datetime, error: str) -> None:
    """The head row failed: its attempt count and error, and every row of the subscription waits until ``due``."""
    connection = session.connection()
    connection.execute(_FAILED, {"b_seq": seq, "b_attempts": attempts, "b_first": first_failure,
                                 "b_error": error[:2000]})
    connection.execute(_POSTPONE, {"sub": subscription_id, "b_due": due})


def resume(session: Session, subscription_id: str, now: datetime) -> None:
    """Reactivated: what is still waiting is due now, with a fresh retry period."""
    session.connection().execute(_RESUME, {"sub": subscription_id, "now": now})


def pending(session: Session, subscription_id: str) -> int:
    return session.connection().execute(_PENDING, {"sub": subscription_id}).scalar_one()


def forget(session: Session, subscription_id: str) -> None:
    """A deleted subscription: its rows and state go."""
    connection = session.connection()
    connection.execute(_FORGET_ROWS, {"sub": subscription_id})
    connection.execute(_FORGET_STATE, {"sub": subscription_id})
