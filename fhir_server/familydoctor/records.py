"""Reading the family-doctor resources of SPEC §3 (Contract, CareTeam, Group, PlanDefinition)
as plain JSON: the few accessors every rule and operation shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from fhir_server.core import jiayi_names as n
from fhir_server.core.references import parse_reference

CHINA = dt.timezone(dt.timedelta(hours=8))  # "today" for contracts is the day in China Standard Time


def today(now: dt.datetime) -> dt.date:
    return (now if now.tzinfo else now.replace(tzinfo=dt.UTC)).astimezone(CHINA).date()


def has_coding(concepts: object, system: str, code: str) -> bool:
    """Whether a CodeableConcept (or a list of them) carries ``system|code``."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return any(isinstance(coding, dict) and coding.get("system") == system and coding.get("code") == code
               for c in items if isinstance(c, dict) for coding in c.get("coding") or [])


def codes(concept: object, system: str) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [c["code"] for c in concept.get("coding") or [] if isinstance(c, dict)
            and c.get("system") == system and isinstance(c.get("code"), str)]


def extensions(element: dict, url: str) -> list[dict]:
    return [e for e in element.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def extension_value(element: dict, url: str, key: str, default: object = None) -> object:
    for e in extensions(element, url):
        if key in e:
            return e[key]
    return default


def local_ref(reference: object) -> str | None:
    """``Type/id`` of a Reference (relative or absolute, version dropped), None if not literal."""
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str):
        return None
    parsed = parse_reference(reference)
    return f"{parsed.res_type}/{parsed.res_id}" if parsed else None


def ref_parts(reference: str) -> tuple[str, str]:
    res_type, _, res_id = reference.partition("/")
    return res_type, res_id


# --- Contract (jiayi-contract) ---------------------------------------------------------------

def is_family_doctor_contract(contract: dict | None) -> bool:
    return contract is not None and has_coding(contract.get("type"), n.CONTRACT_TYPE, "family-doctor")


def subjects(contract: dict) -> list[str]:
    refs = (local_ref(s) for s in contract.get("subject") or [])
    return sorted({r for r in refs if r and r.startswith("Patient/")})


def care_team(contract: dict) -> str | None:
    return local_ref(extension_value(contract, n.CONTRACT_CARE_TEAM, "valueReference"))


def household(contract: dict) -> str | None:
    return local_ref(extension_value(contract, n.CONTRACT_HOUSEHOLD, "valueReference"))


def renews(contract: dict) -> str | None:
    return local_ref(extension_value(contract, n.RENEWS, "valueReference"))


def auto_renew(contract: dict) -> bool:
    return extension_value(contract, n.AUTO_RENEW, "valueBoolean", True) is not False


def packages(contract: dict) -> list[str]:
    refs = (local_ref(t.get("topicReference")) for t in contract.get("term") or [] if isinstance(t, dict))
    return [r for r in refs if r and r.startswith("PlanDefinition/")]


def combination_hospitals(contract: dict) -> list[tuple[str | None, str]]:
    """(level, Organization/id) of the "1+1+1" hospitals."""
    out = []
    for e in extensions(contract, n.COMBINATION_HOSPITAL):
        parts = {p.get("url"): p for p in e.get("extension") or [] if isinstance(p, dict)}
        org = local_ref(parts.get("organization", {}).get("valueReference"))
        if org:
            out.append(((parts.get("level") or {}).get("valueCode"), org))
    return out


def parse_day(value: object) -> dt.date | None:
    """The calendar day of a FHIR date or dateTime (None when absent or partial)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def applies(contract: dict) -> tuple[dt.date | None, dt.date | None]:
    period = contract.get("applies")
    if not isinstance(period, dict):
        return None, None
    return parse_day(period.get("start")), parse_day(period.get("end"))


def overlaps(a: tuple[dt.date | None, dt.date | None], b: tuple[dt.date | None, dt.date | None]) -> bool:
    """Closed day ranges; a missing end is open-ended, a missing start is the beginning of time."""
    lo, hi = dt.date.min, dt.date.max
    return (a[0] or lo) <= (b[1] or hi) and (b[0] or lo) <= (a[1] or hi)


def in_force_on(contract: dict, day: dt.date) -> bool:
    """Executed and ``day`` within ``applies`` (an executed contract past its end is expired)."""
    return contract.get("status") == "executed" and overlaps(applies(contract), (day, day))


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def term_years(start: dt.date, end: dt.date) -> int | None:
    """Whole years of a term ``start``..``end`` (end = start + N years - 1 day, or + N years)."""
    for years in range(1, 11):
        if end in (add_years(start, years) - dt.timedelta(days=1), add_years(start, years)):
            return years
    return None


# --- CareTeam (jiayi-family-doctor-team) -------------------------------------------------------

def is_family_doctor_team(team: dict | None) -> bool:
    return team is not None and has_coding(team.get("category") or [], n.CARE_TEAM_CATEGORY, "family-doctor-team")


def team_roles(participant: dict) -> set[str]:
    return {code for role in participant.get("role") or [] for code in codes(role, n.TEAM_ROLE)}


def leads(team: dict) -> list[tuple[int, dict]]:
    return [(i, p) for i, p in enumerate(team.get("participant") or [])
            if isinstance(p, dict) and extension_value(p, n.TEAM_LEAD, "valueBoolean") is True]


def lead_doctor(team: dict) -> str | None:
    found = leads(team)
    return local_ref(found[0][1].get("member")) if len(found) == 1 else None


def members(team: dict) -> Iterator[str]:
    for p in team.get("participant") or []:
        member = local_ref(p.get("member")) if isinstance(p, dict) else None
        if member:
            yield member


def capacity(team: dict, default: int = 1500) -> int:
    value = extension_value(team, n.TEAM_CAPACITY, "valuePositiveInt")
    return value if isinstance(value, int) and value > 0 else default


# --- Group (jiayi-household) -------------------------------------------------------------------

def group_members(group: dict) -> list[str]:
    refs = (local_ref(m.get("entity")) for m in group.get("member") or [] if isinstance(m, dict)
            and not m.get("inactive"))
    return [r for r in refs if r]


def household_heads(group: dict) -> list[str]:
    return [r for m in group.get("member") or [] if isinstance(m, dict)
            and extension_value(m, n.HOUSEHOLD_HEAD, "valueBoolean") is True
            and (r := local_ref(m.get("entity")))]


# --- PlanDefinition (jiayi-service-package) ----------------------------------------------------

def annual_price(package: dict) -> float | None:
    money = extension_value(package, n.ANNUAL_PRICE, "valueMoney")
    value = money.get("value") if isinstance(money, dict) else None
    return value if isinstance(value, (int, float)) else None


def package_items(package: dict) -> dict[str, int]:
    """Service item code → times a year (``timingTiming.repeat`` frequency per period of 1 a)."""
    items: dict[str, int] = {}
    for action in package.get("action") or []:
        if not isinstance(action, dict):
            continue
        for concept in action.get("code") or []:
            for code in codes(concept, n.SERVICE_ITEM):
                items[code] = items.get(code, 0) + _per_year(action)
    return items


def _per_year(action: dict) -> int:
    repeat = ((action.get("timingTiming") or {}).get("repeat") or {}) if isinstance(action.get("timingTiming"), dict) else {}
    frequency = repeat.get("frequency", 1)
    period, unit = repeat.get("period", 1), repeat.get("periodUnit", "a")
    per_unit = {"a": 1, "mo": 12, "wk": 52, "d": 365}.get(unit)
    if not isinstance(frequency, int) or not isinstance(period, (int, float)) or not period or per_unit is None:
        return 1
    return max(1, round(frequency * per_unit / period))
