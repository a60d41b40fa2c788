"""Index rows on write (called by the repository inside its write transaction) and ``$reindex``.

The registry is refreshed from stored SearchParameter resources when their (count, newest
last_updated) changes, so every server process sees a custom parameter after its commit
without a restart.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from fhir_server.search import registry as registry_module
from fhir_server.search.index import index_entries, kinds_of
from fhir_server.search.registry import ParamRegistry, base_registry
from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

_stale = [False]


def current_registry(session: Session) -> ParamRegistry:
    """The registry including active stored SearchParameters; one small query when nothing changed."""
    stamp = tuple(session.execute(
        select(func.count(), func.max(ResourceRow.last_updated)).where(ResourceRow.res_type == "SearchParameter")
    ).one())
    current = registry_module.current()
    if current.stamp == stamp and not _stale[0]:
        return current
    rows = session.scalars(select(ResourceRow.content).where(
        ResourceRow.res_type == "SearchParameter", ResourceRow.deleted.is_(False)))
    fresh = base_registry().with_custom([c for c in rows if c], stamp)
    registry_module.set_current(fresh)
    _stale[0] = False
    return fresh


def index_resource(session: Session, res_type: str, res_id: str, resource: dict | None) -> None:
    """Replace every index row of ``res_type/res_id`` (``resource`` None: it was deleted)."""
    registry = current_registry(session)
    for kind in kinds_of(registry, res_type):
        table = INDEX_TABLES[kind]
        session.execute(delete(table).where(table.c.res_type == res_type, table.c.res_id == res_id))
    if res_type == "SearchParameter":
        _stale[0] = True  # this transaction's change is not in the stamp until it is flushed
    if resource is None:
        return
    by_table: dict[str, list[dict]] = {}
    params = registry.for_type(res_type)
    for code, rows in index_entries(registry, res_type, resource).items():
        owner = {"res_type": res_type, "res_id": res_id, "param": code}
        by_table.setdefault(params[code].type, []).extend({**owner, **row} for row in rows)
    for kind, rows in by_table.items():
        session.execute(insert(INDEX_TABLES[kind]), rows)


def reindex(session: Session, res_type: str | None = None, res_id: str | None = None,
            batch: int = 500) -> int:
    """Rebuild the index rows of current resources (all, one type, or one resource); returns the count."""
    query = select(ResourceRow.res_type, ResourceRow.res_id, ResourceRow.content).where(
        ResourceRow.deleted.is_(False))
    if res_type:
        query = query.where(ResourceRow.res_type == res_type)
    if res_id:
        query = query.where(ResourceRow.res_id == res_id)
    rows = session.execute(query.order_by(ResourceRow.res_type, ResourceRow.res_id)).all()
    for type_, id_, content in rows:
        index_resource(session, type_, id_, content)
    return len(rows)
