"""REF^I12: the referral ServiceRequest + Task (with Patient, Practitioners, Organizations,
Conditions, notes, supporting Observations); the builders RRI^I12 shares."""

from __future__ import annotations

from . import datatypes as dt
from .conditions import add_condition
from .conversion import (
    _DIRECTIONS,
    CS,
    REFERRAL_CATEGORY,
    REFERRAL_PROFILE,
    REFERRAL_TASK_PROFILE,
    SD,
    Conversion,
    nte_text,
)
from .er7 import Segment
from .parties import facility_org, prd_parties
from .patient import add_patient
from .results import add_results, results
from .tables import table


def referral_direction(rf1: Segment | None, default: str) -> tuple[str, str]:
    if rf1 is not None:
        for value in (rf1.get(3, 1), rf1.get(3, 2)):
            if value in _DIRECTIONS or value.upper() in _DIRECTIONS:
                return _DIRECTIONS.get(value) or _DIRECTIONS[value.upper()]
    return _DIRECTIONS[default]


def referral_ids(conv: Conversion, rf1: Segment | None) -> list[dict]:
    ids = []
    if rf1 is not None:
        for field in (6, 11):
            identifier = dt.ei(dt.first(rf1, field), conv.facility)
            if identifier and identifier not in ids:
                ids.append(identifier)
    return ids


def message_providers(conv: Conversion) -> dict[str, list[tuple[dict | None, dict | None]]]:
    out: dict[str, list] = {}
    for prd in conv.msg.all("PRD"):
        role = prd.get(1).upper()
        fallback = conv.msg.sending_facility if role in ("RP", "PP") else conv.msg.receiving_facility
        out.setdefault(role, []).append(prd_parties(conv, prd, fallback or ""))
    return out


def notes_of(conv: Conversion, skip_groups: bool = True) -> list[dict]:
    notes = []
    in_group = False
    for seg in conv.msg.segments:
        if seg.id in ("OBR", "OBX", "PR1", "AL1"):
            in_group = True
        elif seg.id in ("PV1", "PV2", "PID", "RF1", "PRD", "DG1"):
            in_group = False
        elif seg.id == "NTE" and not (in_group and skip_groups):
            text = nte_text(seg)
            if text:
                notes.append({"text": text})
    return notes


def service_request(conv: Conversion, rf1: Segment | None, ids: list[dict], direction: tuple[str, str],
              requester: dict | None, performers: list[dict], reasons: list[dict], supporting: list[dict],
              notes: list[dict], based_on: list[dict], tag: str) -> tuple[str, dict]:
    sr: dict = {"resourceType": "ServiceRequest", "meta": {"profile": [REFERRAL_PROFILE]},
                "extension": [{"url": SD + "jiayi-referral-direction",
                               "valueCoding": {"system": CS + "referral-direction", "code": direction[0],
                                               "display": direction[1]}}],
                "identifier": ids}
    if based_on:
        sr["basedOn"] = based_on
    sr.update(status="active", intent="order", category=[REFERRAL_CATEGORY])
    priority = table("referral-priority").code(rf1.get(2)) if rf1 is not None else None
    if priority:
        sr["priority"] = priority
    elif rf1 is not None and rf1.get(2):
        conv.warn(rf1, 2, f"referral priority {rf1.get(2)!r} is not in table 0280; left out")
    kind = dt.first(rf1, 3) if rf1 is not None else None
    code: dict = {"text": f"{direction[1]}转诊"}
    if kind is not None and kind.c(1) and kind.c(1) not in _DIRECTIONS and kind.c(1).upper() not in _DIRECTIONS:
        code = {"coding": [dt.table_coding("0281", kind.c(1), kind.c(2))], "text": kind.c(2) or code["text"]}
    sr["code"] = code
    sr["subject"] = conv.patient_ref
    authored = conv.timestamp(rf1, 7, what="effective date")
    sr["authoredOn"] = authored or dt.ts(conv.msg.timestamp) or None
    if not sr["authoredOn"]:
        del sr["authoredOn"]
    if requester:
        sr["requester"] = requester
    if performers:
        sr["performer"] = performers
    reason_codes = []
    if rf1 is not None:
        for rep in dt.reps(rf1, 10):
            if rep.c(1):
                reason_codes.append({"coding": [dt.table_coding("0336", rep.c(1), rep.c(2))],
                                     **({"text": rep.c(2)} if rep.c(2) else {})})
    if reason_codes:
        sr["reasonCode"] = reason_codes
    if reasons:
        sr["reasonReference"] = reasons
    if supporting:
        sr["supportingInfo"] = supporting
    if notes:
        sr["note"] = notes
    url = conv.create(tag, sr, ids[0])
    return url, sr


def referral_task(conv: Conversion, sr_url: str, ids: list[dict], owner: dict | None, requester: dict | None,
          authored: str | None, tag: str, priority: str | None) -> str:
    task: dict = {"resourceType": "Task", "meta": {"profile": [REFERRAL_TASK_PROFILE]}, "identifier": ids,
                  "status": "requested", "intent": "order"}
    if priority:
        task["priority"] = priority
    task.update({"focus": {"reference": sr_url}, "for": conv.patient_ref})
    if authored:
        task["authoredOn"] = authored
    if requester:
        task["requester"] = requester
    if owner:
        task["owner"] = owner
    return conv.create(tag, task, ids[0])


def ref_i12(conv: Conversion) -> None:
    msg = conv.msg
    rf1 = msg.first("RF1")
    patient = add_patient(conv, msg.first("PID"), update=False)
    del patient
    providers = message_providers(conv)
    referring = (providers.get("RP") or providers.get("PP") or [(None, None)])[0]
    referred = (providers.get("RT") or providers.get("CP") or [(None, None)])[0]
    requester_org = referring[1] or facility_org(conv, msg.sending_facility or msg.sending_application)
    owner = referred[1] or facility_org(conv, msg.receiving_facility or msg.receiving_application)
    requester = referring[0] if referring[0] and "reference" in referring[0] else requester_org
    if requester is None and referring[0]:
        requester = referring[0]
    performers = [p for p in (owner, referred[0]) if p and "reference" in p]
    conditions = [c for c in (add_condition(conv, dg1) for dg1 in msg.all("DG1")) if c]
    supporting = add_results(conv, results(conv, msg.segments), with_reports=False)
    ids = referral_ids(conv, rf1) or [conv.message_identifier("RF1-1")]
    sr_url, sr = service_request(conv, rf1, ids, referral_direction(rf1, "upward"), requester, performers, conditions,
                           supporting, notes_of(conv), [], "referral")
    task_url = referral_task(conv, sr_url, ids, owner, requester, sr.get("authoredOn"), "referral-task",
                             sr.get("priority"))
    conv.tasks.append({"fullUrl": task_url, "status": "requested", "sender": msg.sender})
