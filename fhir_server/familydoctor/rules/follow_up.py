"""The national follow-up rules (SPEC §4 Care plans; standards.md §1.7, 国家基本公共卫生服务规范
第三版 高血压 / 2型糖尿病 分类干预), run when a follow-up visit's Observations are written.

A visit is judged once per transaction, when it has written all the visit's Observations
(``UnitOfWork.before_commit``), from all Observations of its follow-up Encounter, with the thresholds of
:data:`THRESHOLDS` and the visit classification (``CS/follow-up-classification``) when
recorded:

- danger values (SBP ≥ 180 or DBP ≥ 110; fasting glucose ≥ 16.7 or ≤ 3.9 mmol/L) raise an
  urgent (priority asap) upward-referral proposal (紧急转诊);
- two unsatisfactory visits in a row (控制不满意: SBP ≥ 140 or DBP ≥ 90; glucose ≥ 7.0), an
  adverse reaction at two visits in a row (难以控制) or a complication raise an
  upward-referral proposal;
- a first unsatisfactory visit or an adverse reaction schedules a follow-up within 2 weeks;
  so does every proposal (转诊后2周内随访).

A proposal is a draft ``jiayi-referral`` (intent proposal, identified by the visit in
``SID/referral-proposal``) and a draft Task for the family doctor (owner the doctor; the
doctor sends it by moving the Task to requested and the referral to active).  The 2-week
follow-up is an activity added to the resident's active health-management plans (none: no
activity).  Each is written once per visit, and a resident has at most one open (draft)
proposal: a later visit that calls for a referral raises its priority instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core.instants import fhir_instant
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.familydoctor.rules.follow_up_plan import is_follow_up, schedule_soon
from fhir_server.familydoctor.rules.referral import RANK, raise_priority
from fhir_server.repository.base import UnitOfWork, WriteEvent


@dataclass(frozen=True, slots=True)
class Threshold:
    measure: str  # the national form's field name
    codes: tuple[str, ...]  # LOINC, as the value's own code or a component's
    unit: str  # the unit the thresholds are in
    item: str  # the follow-up service item the measure belongs to
    unsatisfactory: float  # value ≥ this: 控制不满意
    danger_high: float  # value ≥ this: danger (紧急转诊)
    danger_low: float | None = None  # value ≤ this: danger
    mg_dl_factor: float | None = None  # mg/dL → mmol/L divisor, for glucose


THRESHOLDS = (
    Threshold("收缩压", ("8480-6",), "mmHg", "hypertension-follow-up", 140, 180),
    Threshold("舒张压", ("8462-4",), "mmHg", "hypertension-follow-up", 90, 110),
    Threshold("空腹血糖", ("1558-6", "14771-0", "76629-5"), "mmol/L", "diabetes-follow-up", 7.0, 16.7, 3.9, 18.0),
)
PROPOSAL_PRIORITY = {"danger": "asap", "refer": "routine"}
CLOSED = frozenset({"entered-in-error", "cancelled"})


@dataclass(slots=True)
class Visit:
    """What one visit's Observations say."""

    unsatisfactory: list[str] = field(default_factory=list)
    danger: list[str] = field(default_factory=list)
    adverse: bool = False
    complication: bool = False
    items: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)  # Observation references


def judge(observations: list[dict]) -> Visit:
    visit = Visit()
    for obs in observations:
        if obs.get("status") in CLOSED:
            continue
        hit = False
        for code, quantity in _values(obs):
            for t in THRESHOLDS:
                value = _in_unit(quantity, t) if code in t.codes else None
                if value is None:
                    continue
                hit = True
                visit.items.add(t.item)
                if value >= t.danger_high or (t.danger_low is not None and value <= t.danger_low):
                    visit.danger.append(f"{t.measure} {value:g} {t.unit}")
                elif value >= t.unsatisfactory:
                    visit.unsatisfactory.append(f"{t.measure} {value:g} {t.unit}")
        classes = el.codes_of(obs.get("valueCodeableConcept"), n.CLASSIFICATION)
        if "unsatisfactory" in classes:
            visit.unsatisfactory.append("classified 控制不满意")
        visit.adverse |= "adverse-reaction" in classes
        visit.complication |= "complication" in classes
        if (hit or classes) and obs.get("id"):
            visit.evidence.append(f"Observation/{obs['id']}")
    return visit


def _values(obs: dict):
    for part in [obs, *(obs.get("component") or [])]:
        quantity = part.get("valueQuantity")
        if isinstance(quantity, dict):
            for coding in (part.get("code") or {}).get("coding") or []:
                yield coding.get("code"), quantity


def _in_unit(quantity: dict, t: Threshold) -> float | None:
    value = quantity.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    unit = str(quantity.get("code") or quantity.get("unit") or "")
    if t.mg_dl_factor and unit.lower() == "mg/dl":
        return round(value / t.mg_dl_factor, 1)
    return float(value)


def relevant(obs: dict | None) -> bool:
    if not obs:
        return False
    codes = {c for c, _ in _values(obs)}
    return bool(codes & {c for t in THRESHOLDS for c in t.codes}) or bool(
        el.codes_of(obs.get("valueCodeableConcept"), n.CLASSIFICATION))


def apply_rules(uow: UnitOfWork, event: WriteEvent) -> None:
    """Write hook on Observation."""
    obs = event.resource
    if event.res_type != "Observation" or obs is None or not relevant(obs):
        return
    previous = event.previous.content if event.previous and not event.previous.deleted else None
    if previous and _values_key(previous) == _values_key(obs):
        return
    alone = judge([obs])
    if not (alone.danger or alone.unsatisfactory or alone.adverse or alone.complication):
        return  # a normal value changes no decision: the visit's other values already made theirs
    visit_ref = el.ref_key(obs.get("encounter"))
    if visit_ref is None or visit_ref[0] != "Encounter":
        return
    # the visit is judged once, when the transaction has written all its Observations
    uow.before_commit(("follow-up-rules", visit_ref), lambda: judge_visit(uow, visit_ref))


def judge_visit(uow: UnitOfWork, visit_ref: tuple[str, str]) -> None:
    """The rules for one follow-up Encounter, from all its Observations as stored now."""
    encounter = queries.resolve(uow, {"reference": f"{visit_ref[0]}/{visit_ref[1]}"})
    if encounter is None or not is_follow_up(encounter):
        return
    visit = judge(queries.referring(uow, "Observation", "encounter", f"Encounter/{encounter['id']}"))
    before = _previous_visit(uow, encounter)
    decide(uow, encounter, visit, before)


def _values_key(obs: dict) -> tuple:
    return (obs.get("status"), repr(list(_values(obs))), repr(obs.get("valueCodeableConcept")))


def decide(uow: UnitOfWork, encounter: dict, visit: Visit, before: Visit | None) -> None:
    reasons: list[str] = []
    urgency = None
    if visit.danger:
        urgency, reasons = "danger", [f"危急值，紧急转诊（{'；'.join(visit.danger)}）"]
    if visit.complication:
        urgency = urgency or "refer"
        reasons.append("出现新的并发症或原有并发症加重")
    if visit.adverse and before and before.adverse:
        urgency = urgency or "refer"
        reasons.append("药物不良反应难以控制")
    if visit.unsatisfactory and before and (before.unsatisfactory or before.danger):
        urgency = urgency or "refer"
        reasons.append(f"连续两次控制不满意（{'；'.join(visit.unsatisfactory)}）")
    if urgency:
        propose_referral(uow, encounter, visit, PROPOSAL_PRIORITY[urgency], "；".join(reasons))
        schedule_follow_up(uow, encounter, visit, "转诊后2周内随访")
    elif visit.unsatisfactory or visit.adverse:
        why = "第1次控制不满意" if visit.unsatisfactory else "药物不良反应"
        schedule_follow_up(uow, encounter, visit, f"{why}，2周内随访")


def _previous_visit(uow: UnitOfWork, encounter: dict) -> Visit | None:
    start = (encounter.get("period") or {}).get("start")
    patient = el.ref_key(encounter.get("subject"))
    if not start or not patient:
        return None
    found = queries.find(uow, "Encounter", [("subject", f"{patient[0]}/{patient[1]}"), ("date", f"lt{start}"),
                                           ("_sort", "-date")], count=10)
    for earlier in found:
        if earlier.get("id") != encounter.get("id") and is_follow_up(earlier) and earlier.get("status") == "finished":
            return judge(queries.referring(uow, "Observation", "encounter", f"Encounter/{earlier['id']}"))
    return None


def _day(encounter: dict) -> date | None:
    return el.day_of((encounter.get("period") or {}).get("start"))


def schedule_follow_up(uow: UnitOfWork, encounter: dict, visit: Visit, why: str) -> None:
    day, patient = _day(encounter), el.ref_key(encounter.get("subject"))
    if day is None or patient is None:
        return
    contract = el.ref_key(el.ext_value(encounter, jn.CONTRACT_EXT, "Reference"))
    item = min(visit.items) if visit.items else None
    schedule_soon(uow, patient, contract, day, item, why, f"Encounter/{encounter['id']}", visit.evidence)


def propose_referral(uow: UnitOfWork, encounter: dict, visit: Visit, priority: str, reason: str) -> None:
    identifier = f"Encounter/{encounter['id']}"
    patient = el.ref_key(encounter.get("subject"))
    existing = [sr for sr in queries.find(uow, "ServiceRequest", [
        ("subject", f"{patient[0]}/{patient[1]}" if patient else ""), ("identifier", f"{n.PROPOSAL_ID}|"),
        ("status", "draft")], count=5)] if patient else []
    if existing:  # one open proposal per resident: a later visit can only make it more urgent
        sr = existing[0]
        if RANK.get(sr.get("priority") or "routine", 0) < RANK[priority]:
            _raise(uow, "ServiceRequest", sr, priority)
            for task in [t for t in queries.referring(uow, "Task", "focus", f"ServiceRequest/{sr['id']}")
                         if t.get("status") == "draft"]:
                _raise(uow, "Task", task, priority)
        return
    day = _day(encounter) or queries.now(uow).date()
    contract = queries.contract_in_force(uow, patient, day,
                                        [el.ext_value(encounter, jn.CONTRACT_EXT, "Reference")]) if patient else None
    doctor = _doctor(uow, encounter, contract)
    sr_id, task_id = uow.new_id(), uow.new_id()  # both ids first, as before (the ids a test injects)
    sr = _proposal(encounter, visit, priority, reason, contract, doctor, identifier, queries.now(uow))
    saved = uow.write_derived(sr, because="follow-up-proposal", res_id=sr_id)
    if saved is None:
        return  # not a valid referral in this resident's context (e.g. no family doctor on record)
    priority = (saved.content or sr).get("priority", priority)  # as the checks left it (green channel)
    task = {"resourceType": "Task", "meta": {"profile": [n.REFERRAL_TASK]}, "status": "draft", "intent": "proposal",
            "priority": priority,
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "approve"}],
                     "text": "审核转诊建议"},
            "description": f"转诊建议，请家庭医生审核：{reason}",
            "focus": {"reference": f"ServiceRequest/{sr_id}"}, "for": encounter["subject"],
            "authoredOn": sr["authoredOn"]}
    if doctor:
        task["owner"] = doctor
    uow.write_derived(task, because="follow-up-proposal", res_id=task_id)


def _raise(uow: UnitOfWork, res_type: str, resource: dict, priority: str) -> None:
    raised = {**resource}
    raise_priority(raised, priority)
    stored = uow.get(res_type, resource["id"], for_update=True)
    if stored is not None and not stored.deleted and raised != resource:
        uow.write_derived(raised, because="follow-up-proposal", previous=stored)


def _doctor(uow: UnitOfWork, encounter: dict, contract: dict | None) -> dict | None:
    for p in encounter.get("participant") or []:
        key = el.ref_key(p.get("individual"))
        if key and key[0] in ("Practitioner", "PractitionerRole"):
            return {"reference": f"{key[0]}/{key[1]}"}
    team = queries.resolve(uow, el.ext_value(contract, jn.CONTRACT_CARE_TEAM, "Reference")) if contract else None
    doctors = sorted(queries.team_family_doctors(uow, team))
    return {"reference": f"Practitioner/{doctors[0][1]}"} if doctors else None


def _proposal(encounter: dict, visit: Visit, priority: str, reason: str, contract: dict | None,
              doctor: dict | None, identifier: str, now: datetime) -> dict:
    sr: dict = {"resourceType": "ServiceRequest", "meta": {"profile": [n.REFERRAL]},
                "extension": [{"url": n.DIRECTION, "valueCoding": {"system": n.DIRECTION_CS, "code": "upward",
                                                                    "display": "上转"}}],
                "identifier": [{"system": n.PROPOSAL_ID, "value": identifier}]}
    if contract:
        sr["supportingInfo"] = [{"reference": f"Contract/{contract['id']}"}]  # R4 basedOn takes no Contract
    sr.update(status="draft", intent="proposal", category=[{"coding": [n.REFERRAL_CATEGORY], "text": "转诊"}],
              priority=priority, code={"text": "上转转诊建议"}, subject=encounter["subject"],
              authoredOn=(encounter.get("period") or {}).get("start") or fhir_instant(now))
    if doctor:
        sr["requester"] = doctor
    hospitals = sorted(el.extensions(contract, jn.COMBINATION_HOSPITAL),
                       key=lambda e: el.ext_value(e, "level", "Code") != "district") if contract else []
    performer = el.ext_value(hospitals[0], "organization", "Reference") if hospitals else None
    if performer:
        sr["performer"] = [performer]
    sr.update(reasonCode=[{"text": reason}], reasonReference=[{"reference": r} for r in visit.evidence],
              supportingInfo=[{"reference": identifier}], note=[{"text": f"由随访规则生成：{reason}"}])
    return sr
