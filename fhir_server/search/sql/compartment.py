"""Set reads over the reference index for ``Patient/$everything``: a compartment's members, the
resources that refer to a set of targets, and rows by key, each one statement (chunked only
for very long key lists), instead of one search per resource type.

Membership is the same as the search engine's (``Patient/x/Type`` searches): a row of
``search_reference`` whose (type, parameter) is one of ``pairs`` names the owner; deleted
resources have no index rows and are filtered again on the resource table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session

from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

REF = INDEX_TABLES["reference"]
R = ResourceRow.__table__
Key = tuple[str, str]
CHUNK = 500  # keys per IN list


def members(session: Session, owner_type: str, owner_ids: Sequence[str],
            pairs: Iterable[tuple[str, str]]) -> list[ResourceRow]:
    """Current resources with a reference, through one of ``pairs`` (type, parameter), to one
    of ``owner_type/owner_ids``: one statement driven by the reverse reference index."""
    by_type: dict[str, list[str]] = {}
    for res_type, param in pairs:
        by_type.setdefault(res_type, []).append(param)
    if not by_type or not owner_ids:
        return []
    ref = REF.alias()
    wanted = or_(*(and_(ref.c.res_type == t, ref.c.param.in_(params)) for t, params in sorted(by_type.items())))
    keys = select(ref.c.res_type, ref.c.res_id).where(
        ref.c.target_type == owner_type, ref.c.target_id.in_(list(owner_ids)), wanted)
    query = (select(ResourceRow)
             .where(tuple_(ResourceRow.res_type, ResourceRow.res_id).in_(keys), ResourceRow.deleted.is_(False)))
    return list(session.scalars(query))


def referrers(session: Session, source_type: str, param: str, targets: Sequence[Key]) -> list[ResourceRow]:
    """Current ``source_type`` resources whose ``param`` refers to one of ``targets``."""
    found: list[ResourceRow] = []
    by_type: dict[str, list[str]] = {}
    for target_type, target_id in targets:
        by_type.setdefault(target_type, []).append(target_id)
    for target_type, ids in sorted(by_type.items()):
        for start in range(0, len(ids), CHUNK):
            ref = REF.alias()
            sources = select(ref.c.res_id).where(
                ref.c.res_type == source_type, ref.c.param == param, ref.c.target_type == target_type,
                ref.c.target_id.in_(ids[start:start + CHUNK]))
            found.extend(session.scalars(select(ResourceRow).where(
                ResourceRow.res_type == source_type, ResourceRow.res_id.in_(sources),
                ResourceRow.deleted.is_(False))))
    return found


def rows(session: Session, keys: Iterable[Key]) -> list[ResourceRow]:
    """The current, not deleted rows of ``keys`` (those that exist), one statement per type."""
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in keys:
        by_type.setdefault(res_type, []).append(res_id)
    found: list[ResourceRow] = []
    for res_type, ids in sorted(by_type.items()):
        for start in range(0, len(ids), CHUNK):
            found.extend(session.scalars(select(ResourceRow).where(
                ResourceRow.res_type == res_type, ResourceRow.res_id.in_(ids[start:start + CHUNK]),
                ResourceRow.deleted.is_(False))))
    return found
