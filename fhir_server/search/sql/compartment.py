"""Set reads over the reference index for ``Patient/$everything``: a compartment's members, the
resources that refer to a set of targets, and rows by key, each one statement (chunked only
for very long key lists), instead of one search per resource type.

Membership is the same as the search engine's (``Patient/x/Type`` searches): a row of
``search_reference`` whose (type, parameter) is one of ``pairs`` names the owner; deleted
resources have no index rows and are filtered again on the resource table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from sqlalchemy import Select, and_, bindparam, or_, select, tuple_
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
    if not owner_ids:
        return []
    query = _members_query(frozenset(pairs))
    if query is None:
        return []
    return list(session.scalars(query, {"owner_type": owner_type, "owner_ids": list(owner_ids)}))


def member_keys(session: Session, owner_type: str, owner_ids: Sequence[str],
                pairs: Iterable[tuple[str, str]]) -> list:
    """As :func:`members`, without the documents: rows of (res_type, res_id, last_updated)."""
    if not owner_ids:
        return []
    query = _members_query(frozenset(pairs), keys_only=True)
    if query is None:
        return []
    return list(session.execute(query, {"owner_type": owner_type, "owner_ids": list(owner_ids)}).all())


@lru_cache(maxsize=16)
def _members_query(pairs: frozenset[tuple[str, str]], keys_only: bool = False) -> Select | None:
    """The statement of :func:`members` for one set of ``pairs``, owners as parameters: built once
    (the condition over the ~60 compartment types cost a third of ``$everything``'s CPU to build
    and to compute its cache key on every request)."""
    by_type: dict[str, list[str]] = {}
    for res_type, param in sorted(pairs):
        by_type.setdefault(res_type, []).append(param)
    if not by_type:
        return None
    ref = REF.alias()
    wanted = or_(*(and_(ref.c.res_type == t, ref.c.param.in_(params)) for t, params in sorted(by_type.items())))
    keys = select(ref.c.res_type, ref.c.res_id).where(
        ref.c.target_type == bindparam("owner_type"), ref.c.target_id.in_(bindparam("owner_ids", expanding=True)),
        wanted)
    found = select(R.c.res_type, R.c.res_id, R.c.last_updated) if keys_only else select(ResourceRow)
    return found.where(tuple_(R.c.res_type, R.c.res_id).in_(keys), R.c.deleted.is_(False))


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
