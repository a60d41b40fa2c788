"""Stable paging: the ordered ids of a search are stored when it has more than one page.

Later pages read positions from ``search_result`` and join the current rows, so a resource
created after the first page never shifts the others, and one deleted meanwhile just drops
out.  Lists expire after ``EXPIRY``; a token whose list is gone runs the search again at that
offset.  (HAPI FHIR keeps its search results the same way.)
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from fhir_server.storage.index_tables import SearchResult, SearchSession
from fhir_server.storage.models import ResourceRow

EXPIRY = timedelta(hours=1)
EXPIRE_EVERY = 60.0  # seconds
S = cast(Table, SearchResult.__table__)
SESSIONS = cast(Table, SearchSession.__table__)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def store(session: Session, where: list, order: list, cap: int, binding: str = "") -> tuple[str, int]:
    """Store up to ``cap`` ordered (type, id) of the search; returns (search id, rows stored).
    The id ends with the search's ``binding`` (:func:`..page.binding`), so its tokens serve that
    search only."""
    _expire(session)
    search_id = uuid.uuid4().hex + binding
    R = ResourceRow.__table__
    ranked = select(literal(search_id), func.row_number().over(order_by=order) - 1, R.c.res_type, R.c.res_id
                    ).where(*where).order_by(*order).limit(cap)
    inserted = session.execute(insert(S).from_select(["search_id", "position", "res_type", "res_id"], ranked))
    size = inserted.rowcount  # type: ignore[attr-defined]
    if size is None or size < 0:  # a driver that does not report it
        size = session.scalar(select(func.count()).select_from(S).where(S.c.search_id == search_id)) or 0
    session.execute(insert(SESSIONS).values(search_id=search_id, created=_now(), size=size,
                                            total=size if size < cap else None))
    return search_id, size


def load(session: Session, search_id: str) -> Any:
    return session.execute(select(SESSIONS).where(SESSIONS.c.search_id == search_id)).first()


def read_page(session: Session, search_id: str, offset: int, count: int, access: list | None = None
              ) -> list[ResourceRow]:
    """The current, not deleted rows at positions [offset, offset + count), in order; ``access``:
    the reader's reach, so a page token carried to another principal shows nothing of the first's."""
    query = (select(ResourceRow)
             .join(S, (S.c.res_type == ResourceRow.res_type) & (S.c.res_id == ResourceRow.res_id))
             .where(S.c.search_id == search_id, S.c.position >= offset, S.c.position < offset + count,
                    ResourceRow.deleted.is_(False), *(access or ()))
             .order_by(S.c.position))
    return list(session.scalars(query))


_expired_at: dict[str, float] = {}  # database URL → when this process last removed expired lists


def _expire(session: Session) -> None:
    """Remove expired lists, at most once every ``EXPIRE_EVERY`` seconds per process and database
    (two DELETEs on every stored search were a third of its statements)."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    if now - _expired_at.get(key, float("-inf")) < EXPIRE_EVERY:
        return
    _expired_at[key] = now
    cutoff = _now() - EXPIRY
    old = select(SESSIONS.c.search_id).where(SESSIONS.c.created < cutoff)
    session.execute(delete(S).where(S.c.search_id.in_(old)))
    session.execute(delete(SESSIONS).where(SESSIONS.c.created < cutoff))
