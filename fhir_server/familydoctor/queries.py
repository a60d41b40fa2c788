"""Lookups the domain rules and services share: the current version of a resource, searches,
the contract in force, the team's family doctors and an organisation's parents.

Everything goes through the caller's unit of work: inside a write a rule sees the transaction's
own writes and, on PostgreSQL, what committed before its lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from fhir_server import search
from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core import jsonio
from fhir_server.core.errors import Gone, Issue, NotFound, Unprocessable
from fhir_server.repository.base import StoredResource, UnitOfWork

PAGE = 500
OR_SLICE = 50  # values per OR list (the search cost limit allows 100)


def existing(uow: UnitOfWork, res_type: str, res_id: str, *, for_update: bool = False) -> StoredResource:
    """The current version of ``res_type/res_id``: 404 when unknown, 410 when deleted."""
    stored = uow.get(res_type, res_id, for_update=for_update)
    if stored is None:
        raise NotFound(f"{res_type}/{res_id} is not known")
    if stored.deleted:
        raise Gone(f"{res_type}/{res_id} was deleted (version {stored.version})", headers={"ETag": stored.etag})
    return stored


def current(uow: UnitOfWork, reference: str | None) -> dict | None:
    """The current content of ``Type/id`` (None when unknown or deleted)."""
    return resolve(uow, reference)


def find(uow: UnitOfWork, res_type: str, items: list[tuple[str, str]], count: int | None = None) -> list[dict]:
    """The current matches of a search, as resource content: every page, or only the first
    ``count`` when a rule needs no more (a rule's helper, not a user search).

    Remembered for the rest of the unit of work until a resource of ``res_type`` is written
    (the rules of a transaction's many visits ask the same things about a resident); searches
    that read other types (chains, ``_has``) are not remembered."""
    if any("." in key or key.startswith("_has") for key, _ in items):
        return list(_pages(uow, res_type, items, count))
    key = (res_type, tuple(items), count)
    generation = uow.generations.get(res_type, 0)
    known = uow.memo.get(key)
    if known is None or known[0] != generation:
        known = (generation, jsonio.freeze(list(_pages(uow, res_type, items, count))))
        uow.memo[key] = known
    return known[1].thaw()  # type: ignore[attr-defined]  # a copy: a rule may change what it found before writing it


def referring(uow: UnitOfWork, res_type: str, param: str, target: str) -> list[dict]:
    """The current resources of ``res_type`` whose reference parameter ``param`` points at
    ``target`` (``Type/id``): a rule's point lookup, one prepared indexed query instead of a
    search built per call; the rule filters the few found (status, dates) itself.
    Remembered like :func:`find`."""
    key = ("referring", res_type, param, target)
    generation = uow.generations.get(res_type, 0)
    known = uow.memo.get(key)
    if known is None or known[0] != generation:
        found = [s.content for s in uow.referring(res_type, param, target) if s.content is not None]
        known = (generation, jsonio.freeze(found))
        uow.memo[key] = known
    return known[1].thaw()  # type: ignore[attr-defined]


def _pages(uow: UnitOfWork, res_type: str, items: list[tuple[str, str]], count: int | None) -> Iterator[dict]:
    request = search.parse_search(res_type, [*items, ("_count", str(count or PAGE)), ("_total", "none")],
                                  strict=True, registry=uow.search_params())
    page = uow.search(request)
    while True:
        yield from (row.content for row in page.matches if row.content is not None)
        if count is not None or not page.next_page:
            return
        page = uow.search(request, page.next_page)


def find_any(uow: UnitOfWork, res_type: str, param: str, values: list[str],
             items: tuple[tuple[str, str], ...] = ()) -> Iterator[dict]:
    """Matches of ``param`` equal to any of ``values`` (asked in slices under the OR limit)."""
    seen: set[str] = set()
    for start in range(0, len(values), OR_SLICE):
        for content in find(uow, res_type, [(param, ",".join(values[start:start + OR_SLICE])), *items]):
            key = str(content.get("id"))
            if key not in seen:
                seen.add(key)
                yield content


def count(uow: UnitOfWork, res_type: str, items: list[tuple[str, str]]) -> int:
    request = search.parse_search(res_type, [*items, ("_summary", "count")], strict=True,
                                  registry=uow.search_params())
    return uow.search(request).total or 0


def by_identifier(uow: UnitOfWork, res_type: str, systems: tuple[str, ...], value: str) -> list[dict]:
    """Current resources with an identifier ``system|value`` in any of ``systems`` (aliases)."""
    if not value or any(ch in value for ch in ",|\\$"):
        raise Unprocessable([Issue("value", f"'{value}' is not a card or identifier number")])
    token = ",".join(f"{system}|{value}" for system in systems)
    return list(find(uow, res_type, [("identifier", token)]))


def resolve(uow: UnitOfWork, value: object) -> dict | None:
    """The current content of a referenced resource (None: not literal, absent or deleted)."""
    key = el.ref_key(value)
    stored = uow.get(*key) if key else None
    return stored.content if stored is not None and not stored.deleted else None


def now(uow: UnitOfWork) -> datetime:
    """The unit of work's clock, time-zone aware."""
    moment_ = uow.now()
    return moment_ if moment_.tzinfo else moment_.replace(tzinfo=UTC)


def contract_in_force(uow: UnitOfWork, patient: tuple[str, str], on: date,
                      hints: Iterable[object] = ()) -> dict | None:
    """The executed contract covering ``patient`` on ``on``: one of ``hints`` (references to
    Contracts, e.g. ``basedOn``) first, else a search by subject."""
    candidates: list[dict | None] = [resolve(uow, h) for h in hints if (el.ref_key(h) or ("",))[0] == "Contract"]
    if not any(candidates):
        candidates = [c for c in referring(uow, "Contract", "subject", f"{patient[0]}/{patient[1]}")
                      if c.get("status") == "executed"]
    for contract in candidates:
        if contract and _covers(contract, patient, on):
            return contract
    return None


def _covers(contract: dict, patient: tuple[str, str], on: date) -> bool:
    if contract.get("status") != "executed":
        return False
    if patient not in {el.ref_key(s) for s in contract.get("subject") or []}:
        return False
    applies = contract.get("applies") or {}
    start, end = el.day_of(applies.get("start")), el.day_of(applies.get("end"))
    return (start is None or start <= on) and (end is None or on <= end)


def practitioner_of(uow: UnitOfWork, value: object) -> tuple[str, str] | None:
    """A Practitioner reference as such; a PractitionerRole's practitioner."""
    key = el.ref_key(value)
    if key and key[0] == "PractitionerRole":
        return el.ref_key((resolve(uow, value) or {}).get("practitioner"))
    return key if key and key[0] == "Practitioner" else None


def team_family_doctors(uow: UnitOfWork, team: dict | None) -> set[tuple[str, str]]:
    """The Practitioners of a team who are its family doctors (role family-doctor / village
    doctor, or the lead)."""
    doctors = set()
    for p in (team or {}).get("participant") or []:
        lead = el.ext_value(p, jn.TEAM_LEAD, "Boolean") is True
        if lead or el.has_coding(p.get("role"), jn.TEAM_ROLE, jn.FAMILY_DOCTOR_ROLES):
            who = practitioner_of(uow, p.get("member"))
            if who:
                doctors.add(who)
    return doctors


def is_family_doctor(uow: UnitOfWork, value: object) -> bool:
    """A requester is a family doctor: a PractitionerRole coded family-doctor/village-doctor, or
    a Practitioner who is a family doctor on some family-doctor team."""
    key = el.ref_key(value)
    if key and key[0] == "PractitionerRole":
        role = resolve(uow, value) or {}
        if el.has_coding(role.get("code"), jn.TEAM_ROLE, jn.FAMILY_DOCTOR_ROLES):
            return True
    who = practitioner_of(uow, value)
    if who is None:
        return False
    teams = find(uow, "CareTeam", [("participant", f"Practitioner/{who[1]}")], count=20)
    return any(who in team_family_doctors(uow, t) for t in teams)


def organisation_chain(uow: UnitOfWork, value: object, depth: int = 5) -> list[dict]:
    """The Organization a performer stands for (itself, a HealthcareService's or a
    PractitionerRole's or a Location's organisation) and its ``partOf`` parents."""
    resource = resolve(uow, value)
    if resource is None:
        return []
    link = {"HealthcareService": "providedBy", "PractitionerRole": "organization",
            "Location": "managingOrganization"}.get(resource.get("resourceType", ""))
    if link:
        resource = resolve(uow, resource.get(link))
    chain: list[dict] = []
    while resource is not None and resource.get("resourceType") == "Organization" and len(chain) < depth:
        chain.append(resource)
        resource = resolve(uow, resource.get("partOf"))
    return chain
