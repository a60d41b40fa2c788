"""Reads the domain rules and operations share: references, extensions, codes, dates, searches,
the contract in force, the team's family doctors and an organisation's parents.

Everything goes through the caller's unit of work: inside a write a rule sees the transaction's
own writes and, on PostgreSQL, what committed before its lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from fhir_server import search
from fhir_server.core import jsonio
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.core.references import parse_reference
from fhir_server.repository.base import UnitOfWork

from . import referral_names as n

PAGE = 500
OR_SLICE = 50  # values per OR list (the search cost limit allows 100)


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


def ref_key(value: object) -> tuple[str, str] | None:
    """(type, id) of a Reference dict or a reference string; None when it is not literal."""
    text = value.get("reference") if isinstance(value, dict) else value
    parsed = parse_reference(text) if isinstance(text, str) else None
    return (parsed.res_type, parsed.res_id) if parsed else None


def resolve(uow: UnitOfWork, value: object) -> dict | None:
    """The current content of a referenced resource (None: not literal, absent or deleted)."""
    key = ref_key(value)
    stored = uow.get(*key) if key else None
    return stored.content if stored is not None and not stored.deleted else None


def extensions(element: dict | None, url: str) -> list[dict]:
    return [e for e in (element or {}).get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def ext_value(element: dict | None, url: str, kind: str) -> object:
    for e in extensions(element, url):
        return e.get("value" + kind)
    return None


def has_coding(concepts: object, system: str, codes: Iterable[str] | None = None) -> bool:
    wanted = set(codes) if codes is not None else None
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        for coding in (concept or {}).get("coding") or [] if isinstance(concept, dict) else []:
            if coding.get("system") == system and (wanted is None or coding.get("code") in wanted):
                return True
    return False


def codes_of(concepts: object, system: str) -> list[str]:
    found = []
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        for coding in (concept or {}).get("coding") or [] if isinstance(concept, dict) else []:
            if coding.get("system") == system and isinstance(coding.get("code"), str):
                found.append(coding["code"])
    return found


def day_of(value: object) -> date | None:
    """The calendar day of a FHIR date/dateTime string (its own offset kept)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def moment(value: object) -> datetime | None:
    """A FHIR dateTime/instant as an aware datetime (a bare date: midnight UTC)."""
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text if "T" in text else text + "T00:00:00+00:00")
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now(uow: UnitOfWork) -> datetime:
    """The unit of work's clock, time-zone aware."""
    moment_ = uow.now()
    return moment_ if moment_.tzinfo else moment_.replace(tzinfo=UTC)


def is_referral(sr: dict | None) -> bool:
    """A jiayi-referral: claims the profile, carries a direction, or has the referral category."""
    if not sr or sr.get("resourceType") != "ServiceRequest":
        return False
    return (n.REFERRAL in ((sr.get("meta") or {}).get("profile") or []) or bool(extensions(sr, n.DIRECTION))
            or has_coding(sr.get("category"), n.SNOMED, ["3457005"]))


def direction(sr: dict | None) -> str | None:
    coding = ext_value(sr, n.DIRECTION, "Coding")
    return coding.get("code") if isinstance(coding, dict) else None


def contract_in_force(uow: UnitOfWork, patient: tuple[str, str], on: date,
                      hints: Iterable[object] = ()) -> dict | None:
    """The executed contract covering ``patient`` on ``on``: one of ``hints`` (references to
    Contracts, e.g. ``basedOn``) first, else a search by subject."""
    candidates: list[dict | None] = [resolve(uow, h) for h in hints if (ref_key(h) or ("",))[0] == "Contract"]
    if not any(candidates):
        candidates = [*find(uow, "Contract", [("subject", f"{patient[0]}/{patient[1]}"), ("status", "executed")])]
    for contract in candidates:
        if contract and _covers(contract, patient, on):
            return contract
    return None


def _covers(contract: dict, patient: tuple[str, str], on: date) -> bool:
    if contract.get("status") != "executed":
        return False
    if patient not in {ref_key(s) for s in contract.get("subject") or []}:
        return False
    applies = contract.get("applies") or {}
    start, end = day_of(applies.get("start")), day_of(applies.get("end"))
    return (start is None or start <= on) and (end is None or on <= end)


def practitioner_of(uow: UnitOfWork, value: object) -> tuple[str, str] | None:
    """A Practitioner reference as such; a PractitionerRole's practitioner."""
    key = ref_key(value)
    if key and key[0] == "PractitionerRole":
        return ref_key((resolve(uow, value) or {}).get("practitioner"))
    return key if key and key[0] == "Practitioner" else None


def team_family_doctors(uow: UnitOfWork, team: dict | None) -> set[tuple[str, str]]:
    """The Practitioners of a team who are its family doctors (role family-doctor / village
    doctor, or the lead)."""
    doctors = set()
    for p in (team or {}).get("participant") or []:
        lead = ext_value(p, n.TEAM_LEAD, "Boolean") is True
        if lead or has_coding(p.get("role"), n.TEAM_ROLE, n.FAMILY_DOCTOR_ROLES):
            who = practitioner_of(uow, p.get("member"))
            if who:
                doctors.add(who)
    return doctors


def is_family_doctor(uow: UnitOfWork, value: object) -> bool:
    """A requester is a family doctor: a PractitionerRole coded family-doctor/village-doctor, or
    a Practitioner who is a family doctor on some family-doctor team."""
    key = ref_key(value)
    if key and key[0] == "PractitionerRole":
        role = resolve(uow, value) or {}
        if has_coding(role.get("code"), n.TEAM_ROLE, n.FAMILY_DOCTOR_ROLES):
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
