"""The hospital's referral desk (转诊服务台): referrals addressed to the user's organization,
by the state of their Task, green channel first; the reserved slots and bookings.

Actions are Task updates (accept, reject with a reason) and ``ServiceRequest/$book``; the
state machine and the booking rules are the server's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from fhir_server.console.fhir_client import Answer

from .common import Source, concept_text, day, display, extension, ref, ref_id

OPEN_STATES = ("requested", "received", "accepted", "in-progress", "on-hold")
URGENT = ("urgent", "asap", "stat")


@dataclass
class Referral:
    task_id: str
    referral_id: str
    patient_id: str
    patient: str
    what: str
    reason: str
    when: str
    status: str
    green: bool
    priority: str
    requester: str
    booked: bool


@dataclass
class Desk:
    by_status: dict[str, list[Referral]] = field(default_factory=dict)
    slots: list[dict] = field(default_factory=list)
    bookings: list[dict] = field(default_factory=list)


def build(source: Source, now: dt.datetime) -> Desk:
    desk = Desk({status: [] for status in OPEN_STATES})
    found = source.search("ServiceRequest?direction=upward&intent=order&status=active"
                          "&_revinclude=Task:focus&_count=100&_sort=-authored")
    tasks = {ref(t.get("focus")): t for t in found if t.get("resourceType") == "Task"}
    for referral in (r for r in found if r.get("resourceType") == "ServiceRequest"):
        task = tasks.get(f"ServiceRequest/{referral['id']}")
        if task is None or task.get("status") not in OPEN_STATES:
            continue
        green = extension(referral, "jiayi-green-channel")
        desk.by_status[task["status"]].append(Referral(
            task["id"], referral["id"], ref_id(referral.get("subject")), display(referral.get("subject")),
            concept_text(referral.get("code")), "; ".join(concept_text(c) for c in referral.get("reasonCode") or []),
            day(referral.get("authoredOn")), task["status"], bool(green and green.get("valueBoolean")),
            referral.get("priority", "routine"), display(referral.get("requester")),
            any(concept_text(o.get("type")) == "预约" for o in task.get("output") or [])))
    for rows in desk.by_status.values():
        rows.sort(key=lambda r: (not r.green, r.priority not in URGENT, r.when))
    desk.slots, desk.bookings = slots(source, now)
    return desk


def slots(source: Source, now: dt.datetime) -> tuple[list[dict], list[dict]]:
    """The reserved slots ahead and the bookings of the schedules the user's organization keeps."""
    found = source.search(f"Slot?start=ge{now.strftime('%Y-%m-%dT%H:%M:%SZ')}&_sort=start&_count=60"
                          "&_include=Slot:schedule")
    schedules = {f"Schedule/{s['id']}": display((s.get("actor") or [None])[0])
                 for s in found if s.get("resourceType") == "Schedule"}
    rows = []
    for slot in (s for s in found if s.get("resourceType") == "Slot"):
        reserved = extension(slot, "jiayi-reserved-for-family-doctors")
        if not (reserved and reserved.get("valueBoolean")):
            continue
        rows.append({"id": slot["id"], "start": slot.get("start", "")[:16].replace("T", " "),
                     "status": slot.get("status", ""),
                     "schedule": schedules.get(ref(slot.get("schedule")), ref(slot.get("schedule")))})
    bookings = [{"id": a["id"], "start": (a.get("start") or "")[:16].replace("T", " "),
                 "patient": next((display(p.get("actor")) for p in a.get("participant") or []
                                  if ref(p.get("actor")).startswith("Patient/")), ""),
                 "patient_id": next((ref_id(p.get("actor")) for p in a.get("participant") or []
                                     if ref(p.get("actor")).startswith("Patient/")), "")}
                for a in source.search(f"Appointment?status=booked&date=ge{now.date()}&_sort=date&_count=20")]
    return rows, bookings


def act(source, task_id: str, action: str, reason: str):
    """accept | reject (with the reason) | schedule: the Task update or ``$book`` the server judges."""
    task_answer = source.get(f"Task/{task_id}")
    if not task_answer.ok:
        return task_answer
    task = dict(task_answer.resource)
    if action == "schedule":
        return source.post(f"{ref(task.get('focus'))}/$book", {"resourceType": "Parameters"})
    if action == "accept":
        task["status"] = "accepted"
    elif action == "reject":
        task["status"] = "rejected"
        if reason.strip():
            task["statusReason"] = {"text": reason.strip()}
    else:
        issue = {"severity": "error", "code": "not-found", "diagnostics": f"no action {action}"}
        return Answer(404, {"resourceType": "OperationOutcome", "issue": [issue]})
    task.pop("meta", None)
    return source.put(f"Task/{task_id}", task)
