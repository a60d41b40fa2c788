"""Stable paging: the ordered ids of a search are stored when it has more than one page.

The ids are one text value of the list's ``search_session`` row ("Type/id" a line; lists stored
before migration 0008_search have a ``search_result`` row per position).  Later pages read
their positions from it and the current rows by key, so a resource
created after the first page never shifts the others, and one deleted meanwhile just drops
out.  Lists expire after ``EXPIRY``; a token whose list is gone runs the search again at that
offset.  (HAPI FHIR keeps its search results the same way.)  On SQLite the lists are kept in a
file of their own beside the database (:mod:`fhir_server.storage.paging_lists`), so storing one
never waits for the main file's writer.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, select, tuple_
from sqlalchemy.orm import Session

from fhir_server.storage.index_tables import SearchResult, SearchSession
from fhir_server.storage.models import ResourceRow
from fhir_server.storage.paging_lists import lists_engine

EXPIRY = timedelta(hours=1)
EXPIRE_EVERY = 60.0  # seconds
S = cast(Table, SearchResult.__table__)
SESSIONS = cast(Table, SearchSession.__table__)
R = ResourceRow.__table__


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ordered_keys(session: Session, where: list, order: list, cap: int) -> list[tuple[str, str]]:
    """The (type, id) of the search's first ``cap`` matches, in order: the search's one statement."""
    query = select(R.c.res_type, R.c.res_id).where(*where).order_by(*order).limit(cap)
    return [(res_type, res_id) for res_type, res_id in session.execute(query).all()]  # all(): not a fetch per row


def rows_by_key(session: Session, keys: list[tuple[str, str]], access: list | None = None) -> list[ResourceRow]:
    """The current rows of ``keys``, in their order (a key deleted meanwhile is left out);
    ``access``: the reader's reach, as in :func:`read_page`."""
    if not keys:
        return []
    types = {res_type for res_type, _ in keys}
    if len(types) == 1:
        found = select(ResourceRow).where(ResourceRow.res_type == next(iter(types)),
                                          ResourceRow.res_id.in_([res_id for _, res_id in keys]))
    else:
        found = select(ResourceRow).where(tuple_(ResourceRow.res_type, ResourceRow.res_id).in_(keys))
    found = found.where(ResourceRow.deleted.is_(False), *(access or ()))
    by_key = {(row.res_type, row.res_id): row for row in session.scalars(found)}
    return [by_key[key] for key in keys if key in by_key]


def store_keys(session: Session, keys: list[tuple[str, str]], cap: int, binding: str = "") -> tuple[str, int]:
    """Store ``keys`` (the ordered matches, at most ``cap``) as a search's list; returns (search
    id, rows stored).  The id ends with the search's ``binding`` (:func:`..page.binding`), so its
    tokens serve that search only."""
    search_id = uuid.uuid4().hex + binding
    size = len(keys)
    row = insert(SESSIONS).values(search_id=search_id, created=_now(), size=size, total=size if size < cap else None,
                                  key_list="\n".join(f"{t}/{i}" for t, i in keys))
    lists = lists_engine(session.get_bind())
    if lists is None:
        _expire(session, legacy=True)
        session.execute(row)
    else:
        with lists.execution_options(jiayi_write=True).begin() as conn:
            _expire(conn, legacy=False)
            conn.execute(row)
    return search_id, size


def load(session: Session, search_id: str) -> Any:
    """The list's (search_id, created, size, total), its keys left in the database."""
    return _list_row(session, select(SESSIONS.c.search_id, SESSIONS.c.created, SESSIONS.c.size, SESSIONS.c.total)
                     .where(SESSIONS.c.search_id == search_id))


def _list_row(session: Session, query) -> Any:
    """``query``'s first row, read where the lists are kept (:func:`lists_engine`)."""
    lists = lists_engine(session.get_bind())
    if lists is None:
        return session.execute(query).first()
    with lists.connect() as conn:
        return conn.execute(query).first()


def read_page(session: Session, search_id: str, offset: int, count: int, access: list | None = None
              ) -> list[ResourceRow]:
    """The current, not deleted rows at positions [offset, offset + count), in order; ``access``:
    the reader's reach, so a page token carried to another principal shows nothing of the first's."""
    found = _list_row(session, select(SESSIONS.c.key_list).where(SESSIONS.c.search_id == search_id))
    stored = found[0] if found is not None else None
    if stored is not None:
        lines = stored.split("\n")[offset:offset + count] if stored else []
        return rows_by_key(session, [(t, i) for t, _, i in (line.partition("/") for line in lines)], access)
    query = (select(ResourceRow)
             .join(S, (S.c.res_type == ResourceRow.res_type) & (S.c.res_id == ResourceRow.res_id))
             .where(S.c.search_id == search_id, S.c.position >= offset, S.c.position < offset + count,
                    ResourceRow.deleted.is_(False), *(access or ()))
             .order_by(S.c.position))
    return list(session.scalars(query))


_expired_at: dict[str, float] = {}  # database URL → when this process last removed expired lists


def _expire(connection: Session | Connection, legacy: bool) -> None:
    """Remove expired lists, at most once every ``EXPIRE_EVERY`` seconds per process and database
    (two DELETEs on every stored search were a third of its statements); ``legacy``: also the
    ``search_result`` rows of lists stored before migration 0008 (in the main database only)."""
    key = str(connection.get_bind().engine.url if isinstance(connection, Session) else connection.engine.url)
    now = time.monotonic()
    if now - _expired_at.get(key, float("-inf")) < EXPIRE_EVERY:
        return
    _expired_at[key] = now
    cutoff = _now() - EXPIRY
    if legacy:
        old = select(SESSIONS.c.search_id).where(SESSIONS.c.created < cutoff)
        connection.execute(delete(S).where(S.c.search_id.in_(old)))
    connection.execute(delete(SESSIONS).where(SESSIONS.c.created < cutoff))
