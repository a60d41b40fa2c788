"""A measure as a limited principal may see it (SPEC §6, docs/decisions.md "Measures within
reach"): the members about residents outside the caller's reach are left out before counting,
so the numbers, the strata and the subject lists all cover the reachable residents only.

The reachable residents come from the same SQL as every search's reach
(:func:`fhir_server.search.sql.reach.reachable_patients`); a repository without index tables
(the memory twin) asks the search engine, a hundred ids at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from fhir_server import search as engine
from fhir_server.auth.access import Reach
from fhir_server.search.sql.reach import reachable_patients

from .indicators import Member

CHUNK = 100


def within_reach(uow, reach: Reach, members: Iterable[Member]) -> list[Member]:
    """``members`` whose resident is within ``reach``; members about no resident (a team's
    load) are kept: they count households per team, directory data rather than a record."""
    members = list(members)
    visible = reachable(uow, reach, {m.patient for m in members if m.patient})
    return [m for m in members if m.patient is None or m.patient in visible]


def reachable(uow, reach: Reach, patients: set[str]) -> set[str]:
    """Those of ``patients`` (``Patient/id``) that ``reach`` covers."""
    ids = sorted(p.removeprefix("Patient/") for p in patients if p.startswith("Patient/"))
    if not ids:
        return set()
    index_session = getattr(uow, "index_session", None)
    if index_session is not None:
        query = reachable_patients(reach, datetime.now(UTC).replace(tzinfo=None))
        found = set() if query is None else set(index_session().execute(query).scalars())
        return {f"Patient/{i}" for i in ids if i in found}
    found = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        parsed = engine.parse_search("Patient", [("_id", ",".join(chunk)), ("_count", str(CHUNK))],
                                     registry=uow.search_params())
        found |= {row.res_id for row in uow.search(replace(parsed, reach=reach)).matches}
    return {f"Patient/{i}" for i in found}
