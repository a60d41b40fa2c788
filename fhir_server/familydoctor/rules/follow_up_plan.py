"""Follow-up Encounters fill the resident's plan (SPEC §4 Care plans).

A follow-up (``jiayi-follow-up``: claims the profile, or is typed with a follow-up-method
code) that is finished fills, in each active health-management plan of the resident (only
plans serving the same contract when the Encounter names one with ``jiayi-contract``), one
open planned activity per service item it records (``jiayi-service-item``; none recorded:
any follow-up item): the one due first among those whose window has begun by the visit
day, so a late visit fills the overdue window.  The activity gets the Encounter in
``outcomeReference`` and status completed.  Writing the same Encounter again fills nothing
more.  (R4 Encounter.basedOn takes only ServiceRequests, so the plan is found from the
resident and the contract rather than from a link on the Encounter.)
"""

from __future__ import annotations

from datetime import date, timedelta

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.repository.base import UnitOfWork, WriteEvent

FOLLOW_UP_ITEMS = n.FOLLOW_UP_ITEMS

OPEN = frozenset({"scheduled", "not-started", "in-progress"})
FOLLOW_UP_DAYS = 14  # 2周内随访
FOLLOW_UP_AFTER = jn.SD + "jiayi-follow-up-after"  # activity extension (added): what it follows up


def schedule_soon(uow: UnitOfWork, patient: tuple[str, str], contract: tuple[str, str] | None, day: date,
                  item: str | None, why: str, cause: str, evidence: tuple[str, ...] | list[str] = (),
                  because: str = "follow-up-schedule") -> None:
    """A follow-up due within 14 days of ``day`` in the resident's active plans, once per
    ``cause`` (the visit or the referral it follows up); ``item`` None: the plan's own
    follow-up item."""
    end = day + timedelta(days=FOLLOW_UP_DAYS)
    for plan in active_plans(uow, patient, contract):
        activities = plan.get("activity") or []
        if any(el.ext_value(a, FOLLOW_UP_AFTER, "Reference") == {"reference": cause} for a in activities):
            continue
        code = item or _plan_item(activities)
        detail: dict = {"code": {"coding": [{"system": jn.SERVICE_ITEM, "code": code}], "text": why}}
        if evidence:
            detail["reasonReference"] = [{"reference": r} for r in evidence]
        detail.update(status="scheduled", scheduledPeriod={"start": day.isoformat(), "end": end.isoformat()},
                      description=f"{why}（{cause}，{end.isoformat()}前）")
        activity = {"extension": [{"url": FOLLOW_UP_AFTER, "valueReference": {"reference": cause}}], "detail": detail}
        stored = uow.get("CarePlan", plan["id"], for_update=True)
        if stored is not None and not stored.deleted:
            uow.write_derived({**plan, "activity": [*activities, activity]}, because=because,
                              previous=stored)


def _plan_item(activities: list[dict]) -> str:
    for activity in activities:
        for code in el.codes_of((activity.get("detail") or {}).get("code"), jn.SERVICE_ITEM):
            if code in FOLLOW_UP_ITEMS:
                return code
    return n.ANNUAL_FOLLOW_UP


def is_follow_up(encounter: dict | None) -> bool:
    if not encounter or encounter.get("resourceType") != "Encounter":
        return False
    return n.FOLLOW_UP in ((encounter.get("meta") or {}).get("profile") or []) or el.has_coding(
        encounter.get("type") or [], jn.FOLLOW_UP_METHOD)


def fill_plans(uow: UnitOfWork, event: WriteEvent) -> None:
    """Derivation on Encounter (after it is stored)."""
    encounter = event.resource
    if encounter is None or not is_follow_up(encounter) or encounter.get("status") != "finished":
        return
    patient = el.ref_key(encounter.get("subject"))
    day = el.day_of((encounter.get("period") or {}).get("start"))
    if not patient or patient[0] != "Patient" or day is None:
        return
    reference = f"Encounter/{event.res_id}"
    contract = el.ref_key(el.ext_value(encounter, jn.CONTRACT_EXT, "Reference"))
    for plan in active_plans(uow, patient, contract):
        if _filled_by(plan, reference):
            continue
        changed = _fill(plan, _items(encounter), day, reference)
        if changed:
            stored = uow.get("CarePlan", plan["id"], for_update=True)
            if stored is not None and not stored.deleted:
                uow.write_derived(changed, because="follow-up-plan-fill", previous=stored)


def fill_from_history(uow: UnitOfWork, plan: dict) -> dict:
    """A new plan with the follow-ups the resident already had during its period filled in."""
    period, patient = plan.get("period") or {}, plan["subject"]["reference"]
    contract = el.ref_key(el.ext_value(plan, jn.CONTRACT_EXT, "Reference"))
    items = [("subject", patient), ("date", f"ge{period.get('start')}"), ("date", f"le{period.get('end')}"),
             ("status", "finished"), ("_sort", "date")]
    for encounter in queries.find(uow, "Encounter", items, count=500) if period.get("start") else []:
        named = el.ref_key(el.ext_value(encounter, jn.CONTRACT_EXT, "Reference"))
        day = el.day_of((encounter.get("period") or {}).get("start"))
        if not is_follow_up(encounter) or day is None or named not in (None, contract):
            continue
        plan = _fill(plan, _items(encounter), day, f"Encounter/{encounter['id']}") or plan
    return plan


def _items(encounter: dict) -> list[str]:
    return [c for e in el.extensions(encounter, jn.SERVICE_ITEM_EXT)
            for c in el.codes_of(e.get("valueCodeableConcept"), jn.SERVICE_ITEM)]


def _filled_by(plan: dict, reference: str) -> bool:
    return any(reference == o.get("reference") for a in plan.get("activity") or []
               for o in a.get("outcomeReference") or [])


def active_plans(uow: UnitOfWork, patient: tuple[str, str], contract: tuple[str, str] | None) -> list[dict]:
    plans = [p for p in queries.referring(uow, "CarePlan", "subject", f"{patient[0]}/{patient[1]}")
             if p.get("status") == "active"]
    plans = [p for p in plans if n.HEALTH_PLAN in ((p.get("meta") or {}).get("profile") or [])
             or el.extensions(p, jn.CONTRACT_EXT)]
    if contract:
        plans = [p for p in plans if el.ref_key(el.ext_value(p, jn.CONTRACT_EXT, "Reference")) in (None, contract)]
    return plans


def _fill(plan: dict, items: list[str], day: date, reference: str) -> dict | None:
    activities = [dict(a) for a in plan.get("activity") or []]
    filled = False
    wanted_items: list[str | None] = [*items] or [None]
    for wanted in wanted_items:
        index = _pick(activities, wanted, day)
        if index is None:
            continue
        activity = activities[index]
        activity["detail"] = {**activity["detail"], "status": "completed"}
        activity["outcomeReference"] = [*(activity.get("outcomeReference") or []), {"reference": reference}]
        filled = True
    return {**plan, "activity": activities} if filled else None


def _pick(activities: list[dict], wanted: str | None, day: date) -> int | None:
    best: tuple[date, int] | None = None
    for i, activity in enumerate(activities):
        detail = activity.get("detail") or {}
        period = detail.get("scheduledPeriod") or {}
        codes = el.codes_of(detail.get("code"), jn.SERVICE_ITEM)
        if detail.get("status") not in OPEN or not period or not codes:
            continue
        if (wanted is not None and wanted not in codes) or (wanted is None and not FOLLOW_UP_ITEMS & set(codes)):
            continue
        start, end = el.day_of(period.get("start")), el.day_of(period.get("end"))
        if start is not None and start > day:
            continue
        due = end or start or day
        if best is None or due < best[0]:
            best = (due, i)
    return best[1] if best else None
