"""``PlanDefinition/[id]/$apply`` (R4 plandefinition-operation-apply; SPEC §4 Care plans):
a service package, for one resident, becomes a ``jiayi-health-management-plan`` CarePlan.

Parameters (R4): ``subject`` (Patient reference, required, one), ``encounter``,
``practitioner``, ``organization`` (optional), plus ``contract`` (the contract the plan
serves; default the resident's contract in force today) and ``persist`` (boolean).  As in
R4 the result is an unsaved CarePlan (status draft) — by GET, or POST without ``persist``.
POST with ``persist=true`` stores it (status active, 201); applying the same package again
for the same resident and contract returns the stored plan (200), so a retry adds nothing.

The plan covers the contract's term (no contract: one year from today).  Follow-up items
are scheduled one activity per visit window (``scheduledPeriod``, status scheduled): the
package's frequency, raised to the national minimum for the resident's key populations and
conditions (hypertension, type-2 diabetes: four a year), and one general follow-up a year
when the plan has no other (every signed resident).  Other service items are one activity
each with their yearly frequency (``scheduledTiming``, status not-started).  Follow-ups the
resident already had during the term fill their windows at once, as later ones will.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.core.instants import fhir_instant
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.familydoctor.rules.follow_up_plan import fill_from_history
from fhir_server.repository.base import StoredResource, UnitOfWork

ANNUAL = n.ANNUAL_FOLLOW_UP
# key population → (follow-up item, minimum visits a year): 国家基本公共卫生服务规范 §1.7
MINIMUM_FOLLOW_UPS = {"hypertension": ("hypertension-follow-up", 4), "diabetes-t2": ("diabetes-follow-up", 4)}
CONDITION_KEY = {"I10": "hypertension", "I11": "hypertension", "E11": "diabetes-t2"}  # ICD-10 prefixes
FOLLOW_UP_ITEMS = n.FOLLOW_UP_ITEMS
# service item → plan category (SPEC §3 jiayi-health-management-plan)
CATEGORY = {"hypertension-follow-up": "hypertension", "diabetes-follow-up": "diabetes-t2",
            "elderly-health-check": "elderly", "maternal-visit": "maternal", "child-health-check": "child-0-6",
            "severe-mental-follow-up": "severe-mental-disorder", "tb-follow-up": "tuberculosis"}
CATEGORY_NAMES = {"hypertension": "高血压", "diabetes-t2": "2型糖尿病", "elderly": "老年人", "maternal": "孕产妇",
                  "child-0-6": "0-6岁儿童", "severe-mental-disorder": "严重精神障碍", "tuberculosis": "肺结核",
                  "general": "一般人群"}
ITEM_NAMES = {"hypertension-follow-up": "高血压患者随访", "diabetes-follow-up": "2型糖尿病患者随访",
              "severe-mental-follow-up": "严重精神障碍患者随访", "tb-follow-up": "肺结核患者随访", ANNUAL: "年度随访"}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
PER_YEAR = {"a": 1, "mo": 12, "wk": 52, "d": 365}


@dataclass(frozen=True, slots=True)
class PlanFor:
    """What $apply names, as ``Type/id`` references (``subject`` required)."""

    subject: str
    contract: str | None = None
    encounter: str | None = None
    author: tuple[str, str] | None = None  # (parameter name, reference): practitioner, else organization


@dataclass(frozen=True, slots=True)
class Applied:
    plan: dict  # the plan as built (draft) or as stored
    stored: StoredResource | None = None  # persisted: the stored plan, new or found
    created: bool = False


def apply(uow: UnitOfWork, package_id: str, wanted: PlanFor, persist: bool, base_url: str) -> Applied:
    """PlanDefinition/[package_id] as a plan for ``wanted.subject``; stored when ``persist``
    (once per resident, contract and package: a second call finds the first)."""
    package = queries.existing(uow, "PlanDefinition", package_id).content or {}
    patient = _resolve(uow, "subject", wanted.subject) or {}
    today = queries.now(uow).date()
    contract = _contract(uow, _resolve(uow, "contract", wanted.contract), patient, today)
    plan = build_plan(uow, package, patient, contract, today, wanted, base_url)
    if not persist:
        return Applied(plan)
    plan["status"] = "active"
    existing = _existing(uow, plan)
    if existing is not None:
        return Applied(existing.content or plan, existing)
    stored = uow.write_derived(plan, because="apply", refuse=True)
    return Applied(stored.content or plan, stored, created=True)


def build_plan(uow: UnitOfWork, package: dict, patient: dict, contract: dict | None, today: date,
               wanted: PlanFor, base_url: str) -> dict:
    start, end = _term(contract, today)
    conditions = _conditions(uow, patient)
    populations = [e.get("valueCodeableConcept") for e in el.extensions(patient, n.KEY_POPULATION)]
    keys = set(el.codes_of(populations, n.KEY_POPULATION_CS))
    keys |= {key for _, key in conditions}
    items = package_items(package)
    for key in sorted(keys):
        if key in MINIMUM_FOLLOW_UPS:
            code, minimum = MINIMUM_FOLLOW_UPS[key]
            items[code] = max(items.get(code, 0), minimum)
    if not FOLLOW_UP_ITEMS & {code for code, times in items.items() if times > 0}:
        items[ANNUAL] = 1
    team = el.ext_value(contract, jn.CONTRACT_CARE_TEAM, "Reference") if contract else None
    activities = [a for code, times in items.items() for a in _activities(code, times, start, end)]
    categories = sorted({CATEGORY[c] for c in items if c in CATEGORY}) or ["general"]
    plan: dict = {"resourceType": "CarePlan", "meta": {"profile": [n.HEALTH_PLAN]}}
    if contract:
        plan["extension"] = [{"url": jn.CONTRACT_EXT, "valueReference": {"reference": f"Contract/{contract['id']}"}}]
    plan.update(instantiatesCanonical=[_canonical(package, base_url)], status="draft", intent="plan",
                category=[{"coding": [{"system": n.PLAN_CATEGORY, "code": c, "display": CATEGORY_NAMES[c]}],
                           "text": CATEGORY_NAMES[c]} for c in categories],
                title=f"{package.get('title') or package.get('name') or package.get('id')}健康管理方案",
                subject={"reference": f"Patient/{patient['id']}"},
                period={"start": start.isoformat(), "end": end.isoformat()},
                created=fhir_instant(queries.now(uow)))
    encounter = _resolve(uow, "encounter", wanted.encounter)
    if encounter:
        plan["encounter"] = {"reference": f"Encounter/{encounter['id']}"}
    author = _resolve(uow, *wanted.author) if wanted.author else None
    if author:
        plan["author"] = {"reference": f"{author['resourceType']}/{author['id']}"}
    if team:
        plan["careTeam"] = [team]
    if conditions:
        plan["addresses"] = [{"reference": ref} for ref, _ in conditions]
    plan["activity"] = activities
    return fill_from_history(uow, plan)


def package_items(package: dict) -> dict[str, int]:
    """Service item code → times a year, from the package's actions (nested ones too)."""
    items: dict[str, int] = {}
    stack = list(package.get("action") or [])
    while stack:
        action = stack.pop(0)
        stack.extend(action.get("action") or [])
        codes = el.codes_of(action.get("code") or [], jn.SERVICE_ITEM)
        if codes:
            items[codes[0]] = items.get(codes[0], 0) + _per_year(action)
    return items


def _per_year(action: dict) -> int:
    repeat = ((action.get("timingTiming") or {}).get("repeat")) or {}
    frequency, period = repeat.get("frequency", 1), repeat.get("period", 1) or 1
    per = PER_YEAR.get(repeat.get("periodUnit", "a"), 1)
    try:
        return max(1, round(float(frequency) * per / float(period)))
    except (TypeError, ValueError):
        return 1


def _activities(code: str, times: int, start: date, end: date) -> list[dict]:
    coding = {"system": jn.SERVICE_ITEM, "code": code}
    if ITEM_NAMES.get(code):
        coding["display"] = ITEM_NAMES[code]
    concept = {"coding": [coding], "text": ITEM_NAMES.get(code, code)}
    if code not in FOLLOW_UP_ITEMS:
        timing = {"repeat": {"boundsPeriod": {"start": start.isoformat(), "end": end.isoformat()},
                             "frequency": times, "period": 1, "periodUnit": "a"}}
        return [{"detail": {"code": concept, "status": "not-started", "scheduledTiming": timing}}]
    return [{"detail": {"code": concept, "status": "scheduled",
                        "scheduledPeriod": {"start": low.isoformat(), "end": high.isoformat()},
                        "description": f"{concept['text']}（{low.isoformat()}至{high.isoformat()}）"}}
            for low, high in windows(times, start, end)]


def windows(times: int, start: date, end: date) -> list[tuple[date, date]]:
    """``times`` equal visit windows per year of the term [start, end]; a window the end cuts
    to less than half its length is dropped (a term of a year and a day has four, not five)."""
    result = []
    year_start = start
    while year_start <= end:
        next_year = _add_years(year_start, 1)
        length = (next_year - year_start).days
        bounds = [year_start + timedelta(days=round(k * length / times)) for k in range(times + 1)]
        for low, high in pairwise(bounds):
            last = min(high - timedelta(days=1), end)
            if low <= end and (last - low).days + 1 >= (high - low).days / 2:  # no stub windows
                result.append((low, last))
        year_start = next_year
    return result


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _term(contract: dict | None, today: date) -> tuple[date, date]:
    applies = (contract or {}).get("applies") or {}
    start = el.day_of(applies.get("start")) or today
    end = el.day_of(applies.get("end")) or _add_years(start, 1) - timedelta(days=1)
    return start, end


def _conditions(uow: UnitOfWork, patient: dict) -> list[tuple[str, str]]:
    """(Condition reference, key population) of the resident's active chronic conditions."""
    found = []
    for condition in queries.find(uow, "Condition", [("subject", f"Patient/{patient['id']}")], count=100):
        status = el.codes_of(condition.get("clinicalStatus"), CLINICAL)
        if status and not set(status) & {"active", "recurrence", "relapse"}:
            continue
        for coding in (condition.get("code") or {}).get("coding") or []:
            key = CONDITION_KEY.get(str(coding.get("code", ""))[:3])
            if key and "icd" in str(coding.get("system", "")).lower():
                found.append((f"Condition/{condition['id']}", key))
                break
    return found


def _contract(uow: UnitOfWork, given: dict | None, patient: dict, today: date) -> dict | None:
    patient_key = ("Patient", patient["id"])
    if given is None:
        return queries.contract_in_force(uow, patient_key, today)
    if patient_key not in {el.ref_key(s) for s in given.get("subject") or []}:
        raise Unprocessable([Issue("business-rule", f"Contract/{given['id']} does not cover Patient/{patient['id']}",
                                   expression=("contract",))])
    return given


def _resolve(uow: UnitOfWork, name: str, reference: str | None) -> dict | None:
    """The resource a reference parameter names; 422 naming the parameter when it is not known."""
    if reference is None:
        return None
    resource = queries.resolve(uow, reference)
    if resource is None:
        raise Unprocessable([Issue("not-found", f"Parameter '{name}': {reference} is not known",
                                   expression=(name,))])
    return resource


def _canonical(package: dict, base_url: str) -> str:
    url = package.get("url") or f"{base_url}/PlanDefinition/{package.get('id')}"
    return f"{url}|{package['version']}" if package.get("version") else url


def _existing(uow: UnitOfWork, plan: dict) -> StoredResource | None:
    subject = plan["subject"]["reference"]
    uow.lock(f"CarePlan$apply:{subject}:{plan['instantiatesCanonical'][0]}")
    contract = el.ref_key(el.ext_value(plan, jn.CONTRACT_EXT, "Reference"))
    for found in queries.find(uow, "CarePlan", [("subject", subject), ("status", "active")]):
        same_contract = el.ref_key(el.ext_value(found, jn.CONTRACT_EXT, "Reference")) == contract
        if same_contract and found.get("instantiatesCanonical") == plan["instantiatesCanonical"]:
            return uow.get("CarePlan", found["id"])
    return None

