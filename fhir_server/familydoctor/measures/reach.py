"""A measure as a limited principal may see it (SPEC §6, docs/decisions.md "Measures within
reach"): the members about residents outside the caller's reach are left out before counting,
so the numbers, the strata and the subject lists all cover the reachable residents only.

The reachable residents come from the same SQL as every search's reach
(:func:`fhir_server.search.sql.reach.reachable_patients`), one statement on the index tables.
A repository without them (the memory twin) refuses, as its search does for a limited principal.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from fhir_server.auth.access import Reach
from fhir_server.search.sql.reach import reachable_patients

from .indicators import Member


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
    if index_session is None:  # as the memory twin's search: never answer without the limits
        raise NotImplementedError("the in-memory twin does not apply access by relationship (SQL only)")
    query = reachable_patients(reach, datetime.now(UTC).replace(tzinfo=None))
    found = set() if query is None else set(index_session().execute(query).scalars())
    return {f"Patient/{i}" for i in ids if i in found}
