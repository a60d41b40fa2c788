"""Reserved slots (号源) and their opening times (SPEC §4 Referrals; seeds 000 三(五), 003 上海/厦门/杭州).

Hospitals publish Schedules and Slots.  A Slot flagged ``jiayi-reserved-for-family-doctors``
can be booked only by an Appointment ``basedOn`` a referral (jiayi-referral) requested by a
family doctor, and not before its ``jiayi-family-doctor-open-time``.  Every other Slot opens
to everybody (the public) ``jiayi-public-booking-lead-days`` days before it starts, a
per-hospital setting on the Organization (the nearest one up the schedule actor's ``partOf``
chain); a hospital that sets none has no public window.  Reserved slots stay with family
doctors (never released to the public).

Booking is checked when an Appointment in a booking state (proposed, pending, booked) first
names a Slot; the Slot is locked, so two requests never both hold it, and marked busy.  An
Appointment cancelled, marked no-show or entered in error (or deleted) frees its slots.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fhir_server.core import elements as el
from fhir_server.core.errors import Conflict, Issue, Unprocessable
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.repository.base import UnitOfWork, WriteEvent

BOOKING = frozenset({"proposed", "pending", "booked"})
HOLDING = frozenset({"proposed", "pending", "booked", "arrived", "checked-in", "fulfilled", "waitlist"})


def check_appointment(uow: UnitOfWork, event: WriteEvent) -> None:
    """Check on Appointment: each slot it starts to hold is locked, open to it and free."""
    for slot_id, where in _taking(event):
        check_slot(uow, slot_id, event.resource or {}, event.res_id, where)


def hold_slots(uow: UnitOfWork, event: WriteEvent) -> None:
    """Derivation on Appointment (stored): the slots it took are busy, those it let go free."""
    if event.res_type != "Appointment":
        return
    for released in sorted(_held(_before(event)) - _held(event.resource)):
        _set_slot_status(uow, released, "free", event.res_id)
    for slot_id, _where in _taking(event):
        _set_slot_status(uow, ("Slot", slot_id), "busy", event.res_id)


def _before(event: WriteEvent) -> dict | None:
    return event.previous.content if event.previous and not event.previous.deleted else None


def _taking(event: WriteEvent) -> list[tuple[str, str]]:
    """(Slot id, where) of the slots a booking Appointment names that it did not hold before."""
    new = event.resource
    if event.res_type != "Appointment" or new is None or new.get("status") not in BOOKING:
        return []
    held_before = _held(_before(event))
    return [(key[1], f"Appointment.slot[{i}]") for i, slot_ref in enumerate(new.get("slot") or [])
            if (key := el.ref_key(slot_ref)) and key[0] == "Slot" and key not in held_before]


def _held(appointment: dict | None) -> set[tuple[str, str]]:
    if not appointment or appointment.get("status") not in HOLDING:
        return set()
    return {k for k in (el.ref_key(s) for s in appointment.get("slot") or []) if k and k[0] == "Slot"}


def check_slot(uow: UnitOfWork, slot_id: str, appointment: dict, appointment_id: str, where: str) -> None:
    """May the appointment take ``Slot/slot_id``: the lock, then the rules (marked busy once stored)."""
    uow.lock(f"Slot/{slot_id}")
    stored = uow.get("Slot", slot_id, for_update=True)
    if stored is None or stored.deleted:
        return  # a dangling reference is the client's business, as elsewhere
    slot = stored.content or {}
    check_opening(uow, slot, appointment, queries.now(uow), where)
    holder = _other_holder(uow, slot_id, appointment_id)
    if holder or slot.get("status") not in ("free", None):
        raise Conflict([Issue("business-rule", f"Slot/{slot_id} is already taken"
                              + (f" by Appointment/{holder}" if holder else f" (status {slot.get('status')})"),
                              expression=(where,))])


def check_opening(uow: UnitOfWork, slot: dict, appointment: dict, now: datetime, where: str) -> None:
    """Reserved: only through a family doctor's referral, from the family-doctor open time.
    Otherwise: from the hospital's public opening."""
    start = el.moment(slot.get("start"))
    referral = family_doctor_referral(uow, appointment)
    if el.ext_value(slot, n.RESERVED, "Boolean") is True:
        if referral is None:
            raise Unprocessable([Issue("business-rule", f"Slot/{slot.get('id')} is reserved for family doctors "
                                       "(家庭医生预留号源): book it through a referral by a family doctor "
                                       "(Appointment.basedOn a jiayi-referral ServiceRequest)", expression=(where,))])
        opens = el.moment(el.ext_value(slot, n.FAMILY_DOCTOR_OPEN, "DateTime"))
        if opens and now < opens:
            raise Unprocessable([Issue("business-rule", f"Slot/{slot.get('id')} opens to family doctors at "
                                       f"{opens.isoformat()}", expression=(where,))])
        return
    lead = public_lead_days(uow, slot)
    if lead is not None and start is not None and now < start - timedelta(days=lead):
        opens = start - timedelta(days=lead)
        raise Unprocessable([Issue("business-rule", f"Slot/{slot.get('id')} opens for booking at "
                                   f"{opens.isoformat()} ({lead} days before it starts)", expression=(where,))])


def family_doctor_referral(uow: UnitOfWork, appointment: dict) -> dict | None:
    for based_on in appointment.get("basedOn") or []:
        sr = queries.resolve(uow, based_on)
        if (sr is not None and r.is_referral(sr) and sr.get("status") == "active"
                and queries.is_family_doctor(uow, sr.get("requester"))):
            return sr
    return None


def public_lead_days(uow: UnitOfWork, slot: dict) -> int | None:
    schedule = queries.resolve(uow, slot.get("schedule")) or {}
    for actor in schedule.get("actor") or []:
        for org in queries.organisation_chain(uow, actor):
            days = el.ext_value(org, n.PUBLIC_LEAD_DAYS, "Integer")
            if isinstance(days, int):
                return days
    return None


def _other_holder(uow: UnitOfWork, slot_id: str, appointment_id: str) -> str | None:
    for other in queries.referring(uow, "Appointment", "slot", f"Slot/{slot_id}"):
        if other.get("id") != appointment_id and other.get("status") in HOLDING:
            return other["id"]
    return None


def _set_slot_status(uow: UnitOfWork, key: tuple[str, str], status: str, appointment_id: str) -> None:
    stored = uow.get(*key, for_update=True)
    if stored is None or stored.deleted or (stored.content or {}).get("status") == status:
        return
    if status == "free" and _other_holder(uow, key[1], appointment_id):
        return
    uow.write_derived({**(stored.content or {}), "status": status}, because="slot-status", previous=stored)
