"""``ServiceRequest/[id]/$book`` (SPEC Appendix A: notBefore dateTime optional → the Appointment, 201).

Books the earliest free reserved slot at the referral's performer that is open to family
doctors now and starts at or after ``notBefore`` (default now): the performer's own
Schedules and those of its PractitionerRoles, HealthcareServices and Locations (for a
hospital, also those of its departments, one ``partOf`` level down).  In one transaction:
the Appointment (booked, ``basedOn`` the referral, participants the patient and the
schedule's actors), the Slot marked busy (by the Appointment write hook in
:mod:`.slots`, which also locks the slot, so concurrent bookings take different slots), and
the Appointment recorded on the referral's Task as an ``output``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_server.core import elements as el
from fhir_server.core.errors import Conflict, FHIRError, Issue, Unprocessable
from fhir_server.core.instants import fhir_instant
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.rules.referral import add_output
from fhir_server.familydoctor.rules.referral_task import FINAL
from fhir_server.repository.base import StoredResource, UnitOfWork

APPOINTMENT_OUTPUT = {"coding": [{"system": n.TASK_OUTPUT, "code": "appointment", "display": "预约"}], "text": "预约"}
CANDIDATES = 200  # free slots examined per booking (earliest first)


def book(uow: UnitOfWork, referral_id: str, requested: datetime | None = None) -> StoredResource:
    """The Appointment in the earliest free reserved slot from ``requested`` (default now) at
    the performer of ServiceRequest/[referral_id]; 409 when there is none."""
    referral = queries.existing(uow, "ServiceRequest", referral_id).content or {}
    _check_referral(uow, referral)
    now = queries.now(uow)
    not_before = max(requested or now, now)
    schedules = schedules_of(uow, referral.get("performer") or [])
    for slot in _free_reserved_slots(uow, schedules, not_before, now):
        appointment = _appointment(uow, referral, slot, schedules[slot["schedule"]["reference"]], now)
        try:  # the Appointment write hook locks the slot, checks it and marks it busy
            stored = uow.write_derived(appointment, because="book", refuse=True)
        except (Conflict, Unprocessable):
            continue  # taken by a concurrent booking meanwhile: the next one
        for task in queries.find(uow, "Task", [("focus", f"ServiceRequest/{referral['id']}")]):
            add_output(uow, task, APPOINTMENT_OUTPUT, stored.reference, "appointment-output")
        return stored
    raise FHIRError([Issue("business-rule", f"No free slot reserved for family doctors is open at the performer of "
                           f"ServiceRequest/{referral['id']} from {fhir_instant(not_before)}", severity="error")],
                    status=409)


def _check_referral(uow: UnitOfWork, referral: dict) -> None:
    if not r.is_referral(referral):
        raise Unprocessable([Issue("business-rule", "$book books slots for referrals (jiayi-referral) only")])
    if referral.get("status") != "active":
        raise Unprocessable([Issue("business-rule", f"The referral is '{referral.get('status')}'; only an active "
                                   "referral can be booked", expression=("ServiceRequest.status",))])
    if not queries.is_family_doctor(uow, referral.get("requester")):
        raise Unprocessable([Issue("business-rule", "Reserved slots are booked through a referral by a family "
                                   "doctor; the requester is not one", expression=("ServiceRequest.requester",))])
    tasks = queries.find(uow, "Task", [("focus", f"ServiceRequest/{referral['id']}")])
    closed = [t for t in tasks if t.get("status") in FINAL]
    if tasks and len(closed) == len(tasks):
        raise Unprocessable([Issue("business-rule", f"The referral's Task is '{closed[0].get('status')}'; "
                                   "nothing to book")])


def schedules_of(uow: UnitOfWork, performers: list) -> dict[str, dict]:
    """``Schedule/id`` → Schedule of every actor standing for the performers."""
    actors: list[str] = []
    for performer in performers:
        key = el.ref_key(performer)
        if not key:
            continue
        actors.append(f"{key[0]}/{key[1]}")
        if key[0] == "Organization":
            parts = queries.find(uow, "Organization", [("partof", f"Organization/{key[1]}")])
            orgs = [key[1]] + [o["id"] for o in parts]
            for org in orgs:
                actors.append(f"Organization/{org}")
                for kind in ("PractitionerRole", "HealthcareService", "Location"):
                    held = queries.find(uow, kind, [("organization", f"Organization/{org}")])
                    actors += [f"{kind}/{r['id']}" for r in held]
    found: dict[str, dict] = {}
    for start in range(0, len(actors), 50):
        chunk = ",".join(dict.fromkeys(actors[start:start + 50]))
        for schedule in queries.find(uow, "Schedule", [("actor", chunk)]) if chunk else []:
            if schedule.get("active", True):
                found[f"Schedule/{schedule['id']}"] = schedule
    return found


def _open(slot: dict, now: datetime) -> bool:
    opens = el.moment(el.ext_value(slot, n.FAMILY_DOCTOR_OPEN, "DateTime"))
    return opens is None or opens <= now


def _free_reserved_slots(uow: UnitOfWork, schedules: dict[str, dict], not_before: datetime,
                         now: datetime) -> list[dict]:
    slots: list[dict] = []
    names = list(schedules)
    since = fhir_instant(not_before.astimezone(UTC))
    for start in range(0, len(names), 50):
        chunk = ",".join(names[start:start + 50])
        slots += queries.find(uow, "Slot", [("schedule", chunk), ("status", "free"), ("start", f"ge{since}"),
                                           ("_sort", "start")], count=CANDIDATES)
    reserved = [s for s in slots if el.ext_value(s, n.RESERVED, "Boolean") is True
                and s.get("schedule", {}).get("reference") in schedules and _open(s, now)]
    return sorted(reserved, key=lambda s: el.moment(s.get("start")) or not_before)


def _appointment(uow: UnitOfWork, referral: dict, slot: dict, schedule: dict, now: datetime) -> dict:
    participants = [{"actor": referral["subject"], "required": "required", "status": "accepted"}]
    participants += [{"actor": {"reference": a["reference"]}, "required": "required", "status": "accepted"}
                     for a in schedule.get("actor") or [] if isinstance(a.get("reference"), str)]
    appointment: dict = {"resourceType": "Appointment", "status": "booked"}
    for key in ("serviceType", "specialty"):
        if schedule.get(key):
            appointment[key] = schedule[key]
    if referral.get("reasonCode"):
        appointment["reasonCode"] = referral["reasonCode"]
    appointment.update(description="家庭医生转诊预约（预留号源）", start=slot["start"], end=slot["end"],
                       slot=[{"reference": f"Slot/{slot['id']}"}], created=now.date().isoformat(),
                       basedOn=[{"reference": f"ServiceRequest/{referral['id']}"}], participant=participants)
    if referral.get("priority"):
        appointment["priority"] = {"routine": 5, "urgent": 3, "asap": 2, "stat": 1}.get(referral["priority"], 5)
    return appointment

