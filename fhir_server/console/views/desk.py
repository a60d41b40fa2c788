"""The hospital's referral desk (转诊服务台): referrals addressed to the user's organization,
by the state of their Task, green channel first; the reserved slots and bookings.

Actions are Task updates (accept, reject with a reason) and ``ServiceRequest/$book``; the
state machine and the booking rules are the server's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from fhir_server.console.fhir_client import Answer

from .common import Source, concept_text, day, display, extension, ref, ref_id, together

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


def build(source: Source, now: dt.datetime, practitioner: str | None = None) -> Desk:
    desk = Desk({status: [] for status in OPEN_STATES})
    found, (desk.slots, desk.bookings) = together(
        source,
        lambda: source.search("ServiceRequest?direction=upward&intent=order&status=active"
                              "&_revinclude=Task:focus&_include=ServiceRequest:requester&_count=100&_sort=-authored"),
        lambda: slots(source, now, practitioner))
    tasks = {ref(t.get("focus")): t for t in found if t.get("resourceType") == "Task"}
    requesters = {f"{r['resourceType']}/{r['id']}": display(r.get("practitioner")) or r.get("name") or r["id"]
                  for r in found if r.get("resourceType") in ("PractitionerRole", "Practitioner")}
    for referral in (r for r in found if r.get("resourceType") == "ServiceRequest"):
        task = tasks.get(f"ServiceRequest/{referral['id']}")
        if task is None or task.get("status") not in OPEN_STATES:
            continue
        green = extension(referral, "jiayi-green-channel")
        desk.by_status[task["status"]].append(Referral(
            task["id"], referral["id"], ref_id(referral.get("subject")), display(referral.get("subject")),
            concept_text(referral.get("code")), "; ".join(concept_text(c) for c in referral.get("reasonCode") or []),
            day(referral.get("authoredOn")), task["status"], bool(green and green.get("valueBoolean")),
            referral.get("priority", "routine"),
            requesters.get(ref(referral.get("requester"))) or display(referral.get("requester")),
            any(concept_text(o.get("type")) == "预约" for o in task.get("output") or [])))
    for rows in desk.by_status.values():
        rows.sort(key=lambda r: (not r.green, r.priority not in URGENT, r.when))
    return desk


def schedules_of(source: Source, practitioner: str | None) -> dict[str, str]:
    """The Schedules kept by the user's organizations (theirs and their colleagues' roles): id → actor."""
    if not practitioner:
        return {}
    organizations = {ref(r.get("organization")) for r in source.search(
        f"PractitionerRole?practitioner=Practitioner/{practitioner}&_count=20") if ref(r.get("organization"))}
    if not organizations:
        return {}
    roles = [f"PractitionerRole/{r['id']}" for r in source.search(
        f"PractitionerRole?organization={','.join(sorted(organizations))}&_count=100&_elements=id")]
    actors = ",".join([*sorted(organizations), *roles])
    return {f"Schedule/{s['id']}": display((s.get("actor") or [None])[0])
            for s in source.search(f"Schedule?actor={actors}&_count=100")}


def slots(source: Source, now: dt.datetime, practitioner: str | None = None) -> tuple[list[dict], list[dict]]:
    """The reserved slots ahead of the schedules the user's organization keeps, and the bookings."""
    schedules = schedules_of(source, practitioner)
    if not schedules:
        return [], []
    found = source.search(f"Slot?schedule={','.join(schedules)}&start=ge{now.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                          "&_sort=start&_count=40")
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
