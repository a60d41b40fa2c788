"""Health-management plans (jiayi-health-management-plan) of the residents with hypertension or
type-2 diabetes who signed a contract: the CarePlan ``PlanDefinition/[package]/$apply`` with
``persist=true`` stores on the demo's day (familydoctor.services.care_plans): windows over the
contract's term, the follow-ups since the contract began filled in.

The package is the resident's disease-specific package when the contract has one for them,
else the basic package.  Follow-up items get one activity per visit window over the contract's
term (four a year at least for hypertension and diabetes, the national minimum); a follow-up
Encounter fills the open window due first among those begun by the visit day.  Windows past
with no visit stay ``scheduled``: the worklist's overdue follow-ups (``CarePlan?activity-due``).

The demo sits below the domain (it cannot import it), so the few lines of the rule are
repeated here; tests/api/test_demo_care_plans.py checks that ``$apply`` on the loaded demo
builds the same plan and finds the stored one.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from . import catalog as c
from .build import add_years, instant, jiayi, ref
from .residents import Person

PROFILE = c.SD + "jiayi-health-management-plan"
PLAN_CATEGORY = c.CS + "care-plan-category"
MINIMUM = {"diabetes-t2": ("diabetes-follow-up", 4), "hypertension": ("hypertension-follow-up", 4)}
CATEGORY = {"hypertension-follow-up": ("hypertension", "高血压"), "diabetes-follow-up": ("diabetes-t2", "2型糖尿病"),
            "elderly-health-check": ("elderly", "老年人"), "maternal-visit": ("maternal", "孕产妇"),
            "child-health-check": ("child-0-6", "0-6岁儿童")}
FOLLOW_UPS = {"hypertension-follow-up": "高血压患者随访", "diabetes-follow-up": "2型糖尿病患者随访"}
_SHORT = {"hypertension": "htn", "diabetes-t2": "dm"}


def package_url(package_id: str) -> str:
    """The canonical URL of a demo service package (PlanDefinition.url)."""
    return f"{c.BASE}PlanDefinition/{package_id}"


def care_plan(person: Person, contract_id: str, start: dt.date, end: dt.date, packages: list[str],
              lead: str, team: str, encounters: list[dict]) -> dict | None:
    """The plan of one signed resident (None: no chronic condition); ``packages`` are the ids of
    the contract's packages covering the resident, ``encounters`` the resident's follow-ups."""
    chronic = [k for k in ("hypertension", "diabetes-t2") if k in person.key]
    if not chronic:
        return None
    package = next((p for p in c.PACKAGES if p[0] in packages and p[2] == "disease-specific"
                    and p[0] in (c.CHRONIC[k][3] for k in chronic)), c.PACKAGES[0])
    items = dict(package[5])
    for key in sorted(person.key):
        if key in MINIMUM:
            code, minimum = MINIMUM[key]
            items[code] = max(items.get(code, 0), minimum)
    activities = [a for code, times in items.items() for a in _activities(code, times, start, end)]
    for encounter in sorted(encounters, key=lambda e: e["period"]["start"]):
        day = dt.date.fromisoformat(encounter["period"]["start"][:10])
        if start <= day <= end:
            _fill(activities, encounter, day)
    categories = sorted({CATEGORY[code] for code in items if code in CATEGORY})
    return {"resourceType": "CarePlan", "id": f"cp-{person.index:07d}", "meta": {"profile": [PROFILE]},
            "extension": [{"url": c.SD + "jiayi-contract", "valueReference": ref("Contract", contract_id)}],
            "instantiatesCanonical": [package_url(package[0])], "status": "active", "intent": "plan",
            "category": [{"coding": [{"system": PLAN_CATEGORY, "code": code, "display": name}], "text": name}
                         for code, name in categories],
            "title": f"{package[1]}健康管理方案", "subject": ref("Patient", person.id, person.name),
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "created": instant(start, 9 * 60), "author": ref("Practitioner", lead),
            "careTeam": [ref("CareTeam", team)],
            "addresses": [ref("Condition", f"cond-{person.index:07d}-{_SHORT[k]}") for k in chronic],
            "activity": activities}


def _activities(code: str, times: int, start: dt.date, end: dt.date) -> list[dict]:
    if code not in FOLLOW_UPS:
        coding = jiayi("service-item", code)
        timing = {"repeat": {"boundsPeriod": {"start": start.isoformat(), "end": end.isoformat()},
                             "frequency": times, "period": 1, "periodUnit": "a"}}
        return [{"detail": {"code": {"coding": [coding], "text": code}, "status": "not-started",
                            "scheduledTiming": timing}}]
    name = FOLLOW_UPS[code]
    return [{"detail": {"code": {"coding": [jiayi("service-item", code, name)], "text": name}, "status": "scheduled",
                        "scheduledPeriod": {"start": low.isoformat(), "end": high.isoformat()},
                        "description": f"{name}（{low.isoformat()}至{high.isoformat()}）"}}
            for low, high in windows(times, start, end)]


def windows(times: int, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``times`` equal windows per year of the term; a window the end cuts below half is dropped."""
    result, year_start = [], start
    while year_start <= end:
        next_year = add_years(year_start, 1)
        length = (next_year - year_start).days
        bounds = [year_start + dt.timedelta(days=round(k * length / times)) for k in range(times + 1)]
        for low, high in pairwise(bounds):
            last = min(high - dt.timedelta(days=1), end)
            if low <= end and (last - low).days + 1 >= (high - low).days / 2:
                result.append((low, last))
        year_start = next_year
    return result


def _fill(activities: list[dict], encounter: dict, day: dt.date) -> None:
    """Each service item of the visit completes the open window due first among those begun."""
    reference = f"Encounter/{encounter['id']}"
    for e in encounter.get("extension") or []:
        if not e["url"].endswith("jiayi-service-item"):
            continue
        code = e["valueCodeableConcept"]["coding"][0]["code"]
        open_ = [(a["detail"]["scheduledPeriod"]["end"], i) for i, a in enumerate(activities)
                 if a["detail"]["status"] == "scheduled" and a["detail"]["code"]["coding"][0]["code"] == code
                 and a["detail"]["scheduledPeriod"]["start"] <= day.isoformat()]
        if open_:
            activity = activities[min(open_)[1]]
            activity["detail"] = {**activity["detail"], "status": "completed"}
            activity["outcomeReference"] = [{"reference": reference}]
