"""``_include`` and ``_revinclude`` (FHIR R4 §3.1.1.5.4), with ``:iterate``, from the reference index."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.auth.access import Reach
from fhir_server.core.budget import checkpoint
from fhir_server.search.request import Include
from fhir_server.search.sql.reach import reach_condition
from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

REF = INDEX_TABLES["reference"]
Key = tuple[str, str]


def fetch_includes(session: Session, includes: tuple[Include, ...], matches: list[ResourceRow],
                   max_depth: int, reach: Reach | None = None, *, cap: int | None = None) -> list[ResourceRow]:
    """The included resources, breadth first, within ``reach``; stops once ``cap`` are found (the caller warns)."""
    seen: set[Key] = {(r.res_type, r.res_id) for r in matches}
    found: list[ResourceRow] = []
    frontier = [(r.res_type, r.res_id) for r in matches]
    for depth in range(max_depth):
        checkpoint()
        active = [i for i in includes if depth == 0 or i.iterate]
        if not active or not frontier:
            break
        keys = {k for inc in active for k in _keys(session, inc, frontier)} - seen
        rows = _load(session, keys, reach)
        seen.update(keys)
        found.extend(rows)
        if cap is not None and len(found) >= cap:
            return found[:cap]
        frontier = [(r.res_type, r.res_id) for r in rows]
    return found


def _keys(session: Session, inc: Include, frontier: list[Key]) -> Iterable[Key]:
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in frontier:
        by_type.setdefault(res_type, []).append(res_id)
    if inc.reverse:
        return _reverse(session, inc, by_type)
    ids = by_type.get(inc.source_type, []) if inc.source_type != "*" else [i for v in by_type.values() for i in v]
    if not ids:
        return []
    query = select(REF.c.target_type, REF.c.target_id).where(REF.c.res_id.in_(ids), REF.c.target_id.is_not(None))
    if inc.source_type != "*":
        query = query.where(REF.c.res_type == inc.source_type)
    if inc.param is not None:
        query = query.where(REF.c.param == inc.param.code)
    if inc.target_type:
        query = query.where(REF.c.target_type == inc.target_type)
    return [tuple(row) for row in session.execute(query)]


def _reverse(session: Session, inc: Include, by_type: dict[str, list[str]]) -> list[Key]:
    keys: list[Key] = []
    for target_type, ids in by_type.items():
        if inc.target_type and inc.target_type != target_type:
            continue
        query = select(REF.c.res_type, REF.c.res_id).where(REF.c.target_type == target_type,
                                                           REF.c.target_id.in_(ids))
        if inc.source_type != "*":
            query = query.where(REF.c.res_type == inc.source_type)
        if inc.param is not None:
            query = query.where(REF.c.param == inc.param.code)
        keys.extend(tuple(row) for row in session.execute(query))
    return keys


def _load(session: Session, keys: set[Key], reach: Reach | None) -> list[ResourceRow]:
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in sorted(keys):
        by_type.setdefault(res_type, []).append(res_id)
    rows: list[ResourceRow] = []
    for res_type, ids in by_type.items():
        visible = [] if reach is None else [reach_condition(reach, res_type)]  # SPEC §6: never leaks
        rows.extend(session.scalars(select(ResourceRow).where(
            ResourceRow.res_type == res_type, ResourceRow.res_id.in_(ids), ResourceRow.deleted.is_(False), *visible
        ).order_by(ResourceRow.res_id)))
    return rows
