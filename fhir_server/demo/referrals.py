"""Two-way referrals (双向转诊): jiayi-referral ServiceRequests and their jiayi-referral-task Tasks.

Upward referrals (上转) go from the resident's family doctor to a department of one of the
"1+1+1" hospitals and, under a contract in force that day, get the green channel and
priority urgent (as the server's rule would set them); about half of the completed ones come back
as a downward referral (下转, rehabilitation in the community) ``basedOn`` the upward one.
Task states cover requested → received → accepted | rejected → in-progress → completed
and cancelled.  Emission order: upward request, downward request, upward task, downward
task, so every reference points at something already emitted.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from . import catalog as c
from .build import concept, ext, instant, jiayi, ref
from .layout import Layout
from .patients import Home
from .residents import Person

_REFERRAL = {"coding": [{"system": c.SNOMED, "code": "3457005", "display": "Patient referral"}], "text": "转诊"}
_UP_STATES = (("completed", 0.5), ("in-progress", 0.1), ("accepted", 0.1), ("received", 0.08),
              ("requested", 0.1), ("rejected", 0.07), ("cancelled", 0.05))
_DOWN_STATES = (("completed", 0.6), ("accepted", 0.15), ("in-progress", 0.1), ("requested", 0.1), ("received", 0.05))
_SR_STATUS = {"completed": "completed", "rejected": "revoked", "cancelled": "revoked"}
_LAST_CHANGE = {"completed": 7, "in-progress": 1, "accepted": 1, "rejected": 1, "cancelled": 1,
                "received": 0, "requested": 0}  # days from authoring to the Task's current state
_REJECT = ("号源已满，建议改约其他时段", "不符合转诊指征，建议基层继续治疗")


def _state(rng: random.Random, table: tuple) -> str:
    r = rng.random()
    for state, share in table:
        r -= share
        if r < 0:
            return state
    return table[0][0]


def _department(person: Person) -> str:
    for key in ("hypertension", "diabetes-t2"):
        if key in person.key:
            return c.REFERRAL_DEPARTMENT[key]
    return c.REFERRAL_DEPARTMENT["other"]


def _reason(person: Person) -> dict:
    for key in ("hypertension", "diabetes-t2"):
        if key in person.key:
            return concept(c.ICD10, c.CHRONIC[key][0], c.CHRONIC[key][1])
    return concept(c.ICD10, "R51", "头痛")


def _request(sid: str, person: Person, direction: str, green: bool, requester: str, performer: str,
             status: str, day: dt.date, minutes: int, note: str, based_on: list[dict], reason: dict,
             urgent: bool) -> dict:
    name = {"upward": "上转", "downward": "下转"}[direction]
    sr: dict = {"resourceType": "ServiceRequest", "id": sid,
          "extension": [ext("jiayi-referral-direction", "Coding", jiayi("referral-direction", direction, name)),
                        ext("jiayi-green-channel", "Boolean", green)]}
    if based_on:
        sr["basedOn"] = based_on
    sr.update(status=status, intent="order", category=[_REFERRAL], priority="urgent" if urgent else "routine",
              code={"text": f"{name}转诊"}, subject=ref("Patient", person.id, person.name),
              authoredOn=instant(day, minutes), requester=ref("PractitionerRole", requester),
              performer=[ref("Organization", performer)], reasonCode=[reason], note=[{"text": note}])
    return sr


def _task(tid: str, sid: str, person: Person, state: str, requester: str, owner: str, day: dt.date,
          minutes: int, rng: random.Random, output: str | None) -> dict:
    task: dict = {"resourceType": "Task", "id": tid, "status": state, "intent": "order"}
    if state == "rejected":
        task["statusReason"] = {"text": _REJECT[int(rng.random() * len(_REJECT))]}
    task.update(focus=ref("ServiceRequest", sid), **{"for": ref("Patient", person.id)},
                authoredOn=instant(day, minutes),
                lastModified=instant(day + dt.timedelta(days=_LAST_CHANGE[state]), minutes + 30),
                requester=ref("PractitionerRole", requester), owner=ref("Organization", owner))
    if state in ("in-progress", "completed"):
        end = {"end": instant(day + dt.timedelta(days=7), minutes)} if state == "completed" else {}
        task["executionPeriod"] = {"start": instant(day + dt.timedelta(days=1), 9 * 60), **end}
    if output:
        task["output"] = [{"type": {"text": "回转单"}, "valueReference": ref("ServiceRequest", output)}]
    return task


def referrals(rng: random.Random, person: Person, home: Home, layout: Layout, as_of: dt.date,
              signed: tuple[str, dt.date] | None) -> Iterator[dict]:
    """Zero or one upward referral (with its possible downward answer) for a resident;
    ``signed`` is the executed contract (id, start) of the resident, if any."""
    chronic = "hypertension" in person.key or "diabetes-t2" in person.key
    if rng.random() >= (0.08 if chronic else 0.003 if person.age >= 40 else 0):
        return
    hid = c.HOSPITALS[0 if rng.random() < 0.6 else 1][0]
    dept = _department(person)
    doctors = layout.hospital_staff[(hid, dept)]
    day = as_of - dt.timedelta(days=25 + int(rng.random() * 330))
    minutes, lead, inst = 9 * 60 + int(rng.random() * 420), home.team.lead, home.team.institution
    up_state = _state(rng, _UP_STATES)
    base, reason = f"{person.index:07d}-0", _reason(person)
    # green channel and priority: the resident's own family doctor referring inside the "1+1+1"
    # combination under the contract in force that day (the server's rule, familydoctor.rules.referral)
    contract = signed[0] if signed and signed[1] <= day else None
    urgent = rng.random() < 0.1 or contract is not None
    up = _request(f"sr-{base}-up", person, "upward", contract is not None, lead.role_id, f"{hid}-{dept}",
                  _SR_STATUS.get(up_state, "active"), day, minutes, "病情控制不满意，转上级医院专科诊治",
                  [ref("Contract", contract)] if contract else [], reason, urgent)
    down = None
    if up_state == "completed" and rng.random() < 0.5:
        down_day, doc = day + dt.timedelta(days=7), doctors[int(rng.random() * len(doctors))]
        down_state = _state(rng, _DOWN_STATES)
        down = (_request(f"sr-{base}-down", person, "downward", False, doc.role_id, inst.id,
                         _SR_STATUS.get(down_state, "active"), down_day, minutes, "病情稳定，转回基层康复管理",
                         [ref("ServiceRequest", up["id"])], reason, False), down_state, doc, down_day)
    yield up
    if down:
        yield down[0]
    yield _task(f"task-{base}-up", up["id"], person, up_state, lead.role_id, f"{hid}-{dept}", day, minutes,
                rng, down[0]["id"] if down else None)
    if down:
        sr, state, doc, down_day = down
        yield _task(f"task-{base}-down", sr["id"], person, state, doc.role_id, inst.id, down_day, minutes, rng, None)
