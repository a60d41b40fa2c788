"""Reading the family-doctor resources of SPEC §3 (Contract, CareTeam, Group, PlanDefinition,
the referral ServiceRequest) as plain JSON: what each of their elements means to the domain.
No unit of work here (that is :mod:`.queries`); generic element access is
:mod:`fhir_server.core.elements`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.familydoctor import names as n

CHINA = dt.timezone(dt.timedelta(hours=8))  # "today" for contracts is the day in China Standard Time


def today(now: dt.datetime) -> dt.date:
    return (now if now.tzinfo else now.replace(tzinfo=dt.UTC)).astimezone(CHINA).date()


# --- Contract (jiayi-contract) ---------------------------------------------------------------

def is_family_doctor_contract(contract: dict | None) -> bool:
    return contract is not None and el.has_coding(contract.get("type"), jn.CONTRACT_TYPE, "family-doctor")


def subjects(contract: dict) -> list[str]:
    refs = (el.local_ref(s) for s in contract.get("subject") or [])
    return sorted({r for r in refs if r and r.startswith("Patient/")})


def care_team(contract: dict) -> str | None:
    return el.local_ref(el.ext_value(contract, jn.CONTRACT_CARE_TEAM, "Reference"))


def household(contract: dict) -> str | None:
    return el.local_ref(el.ext_value(contract, jn.CONTRACT_HOUSEHOLD, "Reference"))


def renews(contract: dict) -> str | None:
    return el.local_ref(el.ext_value(contract, jn.RENEWS, "Reference"))


def auto_renew(contract: dict) -> bool:
    return el.ext_value(contract, jn.AUTO_RENEW, "Boolean", True) is not False


def packages(contract: dict) -> list[str]:
    refs = (el.local_ref(t.get("topicReference")) for t in contract.get("term") or [] if isinstance(t, dict))
    return [r for r in refs if r and r.startswith("PlanDefinition/")]


def combination_hospitals(contract: dict) -> list[tuple[str | None, str]]:
    """(level, Organization/id) of the "1+1+1" hospitals."""
    out = []
    for e in el.extensions(contract, jn.COMBINATION_HOSPITAL):
        parts = {p.get("url"): p for p in e.get("extension") or [] if isinstance(p, dict)}
        org = el.local_ref(parts.get("organization", {}).get("valueReference"))
        if org:
            out.append(((parts.get("level") or {}).get("valueCode"), org))
    return out


def applies(contract: dict) -> tuple[dt.date | None, dt.date | None]:
    period = contract.get("applies")
    if not isinstance(period, dict):
        return None, None
    return el.day_of(period.get("start")), el.day_of(period.get("end"))


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


# --- ServiceRequest (jiayi-referral) -----------------------------------------------------------

def is_referral(sr: dict | None) -> bool:
    """A jiayi-referral: claims the profile, carries a direction, or has the referral category."""
    if not sr or sr.get("resourceType") != "ServiceRequest":
        return False
    return (n.REFERRAL in ((sr.get("meta") or {}).get("profile") or []) or bool(el.extensions(sr, n.DIRECTION))
            or el.has_coding(sr.get("category"), n.SNOMED, ["3457005"]))


def direction(sr: dict | None) -> str | None:
    coding = el.ext_value(sr, n.DIRECTION, "Coding")
    return coding.get("code") if isinstance(coding, dict) else None



# --- CareTeam (jiayi-family-doctor-team) -------------------------------------------------------

def is_family_doctor_team(team: dict | None) -> bool:
    return team is not None and el.has_coding(team.get("category") or [], jn.CARE_TEAM_CATEGORY, "family-doctor-team")


def team_roles(participant: dict) -> set[str]:
    return {code for role in participant.get("role") or [] for code in el.codes_of(role, jn.TEAM_ROLE)}


def leads(team: dict) -> list[tuple[int, dict]]:
    return [(i, p) for i, p in enumerate(team.get("participant") or [])
            if isinstance(p, dict) and el.ext_value(p, jn.TEAM_LEAD, "Boolean") is True]


def lead_doctor(team: dict) -> str | None:
    found = leads(team)
    return el.local_ref(found[0][1].get("member")) if len(found) == 1 else None


def members(team: dict) -> Iterator[str]:
    for p in team.get("participant") or []:
        member = el.local_ref(p.get("member")) if isinstance(p, dict) else None
        if member:
            yield member


def capacity(team: dict, default: int = 1500) -> int:
    value = el.ext_value(team, jn.TEAM_CAPACITY, "PositiveInt")
    return value if isinstance(value, int) and value > 0 else default


# --- Group (jiayi-household) -------------------------------------------------------------------

def group_members(group: dict) -> list[str]:
    refs = (el.local_ref(m.get("entity")) for m in group.get("member") or [] if isinstance(m, dict)
            and not m.get("inactive"))
    return [r for r in refs if r]


def household_heads(group: dict) -> list[str]:
    return [r for m in group.get("member") or [] if isinstance(m, dict)
            and el.ext_value(m, jn.HOUSEHOLD_HEAD, "Boolean") is True
            and (r := el.local_ref(m.get("entity")))]


# --- PlanDefinition (jiayi-service-package) ----------------------------------------------------

def annual_price(package: dict) -> float | None:
    money = el.ext_value(package, jn.ANNUAL_PRICE, "Money")
    value = money.get("value") if isinstance(money, dict) else None
    return value if isinstance(value, (int, float)) else None


def package_items(package: dict) -> dict[str, int]:
    """Service item code → times a year (``timingTiming.repeat`` frequency per period of 1 a)."""
    items: dict[str, int] = {}
    for action in package.get("action") or []:
        if not isinstance(action, dict):
            continue
        for concept in action.get("code") or []:
            for code in el.codes_of(concept, jn.SERVICE_ITEM):
                items[code] = items.get(code, 0) + _per_year(action)
    return items


def _per_year(action: dict) -> int:
    timing = action.get("timingTiming")
    repeat = ((timing or {}).get("repeat") or {}) if isinstance(timing, dict) else {}
    frequency = repeat.get("frequency", 1)
    period, unit = repeat.get("period", 1), repeat.get("periodUnit", "a")
    per_unit = {"a": 1, "mo": 12, "wk": 52, "d": 365}.get(unit)
    if not isinstance(frequency, int) or not isinstance(period, (int, float)) or not period or per_unit is None:
        return 1
    return max(1, round(frequency * per_unit / period))
