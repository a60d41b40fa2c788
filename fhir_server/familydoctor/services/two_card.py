"""``Encounter/$record-service`` (SPEC §4, 两卡制; 000 四(五)): one card event from a terminal —
the resident's card and the family doctor's card read together — becomes a contract-service
Encounter and its two-card Provenance, written in one transaction.

Checks, all before anything is written (a refusal writes nothing): the parameters; the
resident card (looked up by the identifier system(s) of its card type, aliases included);
the doctor card (Practitioner.identifier SID/doctor-card); a family-doctor contract in force
on the event's day (China Standard Time) covering the resident, whose team has the doctor
as a member; every item among the service items of the packages that cover the resident.

Idempotent on ``eventId`` (kept as Encounter.identifier SID/two-card-event): the event is
locked first (PostgreSQL advisory lock; SQLite serialises writers), so a duplicate, even a
concurrent one, finds the first record and gets it back with 200.

Resident confirmation (随访确认): when the contract's institution (Contract.authority)
carries ``jiayi-service-confirmation-days`` (positiveInt), the record also gets a Task
(code approve, focus the Encounter, owner the resident, status requested, due
``restriction.period.end`` = time + days) that the resident completes, or that lapses when
still requested after that day; unconfirmed records are those with such a Task open.
"""

from __future__ import annotations

import datetime as dt

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core.errors import Unprocessable
from fhir_server.core.instants import fhir_instant
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.services.family_doctor import contract_in_force
from fhir_server.familydoctor.violations import Violation
from fhir_server.repository.base import StoredResource, UnitOfWork

CONFIRMATION_DAYS = jn.SD + "jiayi-service-confirmation-days"
_HOME_ITEMS = frozenset({"home-visit", "family-bed"})
_V3_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def record_service(uow: UnitOfWork, event: dict) -> tuple[StoredResource, bool]:
    """The Encounter of a card event (see :func:`fhir_server.familydoctor.operations.card_event`)
    and whether it was created now (False: the event was recorded before)."""
    uow.lock(f"jiayi-two-card:{event['eventId']}")
    seen = queries.by_identifier(uow, "Encounter", (jn.TWO_CARD_EVENT,), event["eventId"])
    if seen:
        stored = uow.get("Encounter", seen[0]["id"])
        if stored is not None:
            return stored, False
    resident, doctor, contract = _checked(uow, event)
    encounter = _encounter(event, resident, doctor, contract)
    saved = uow.write_derived(encounter, because="record-service", refuse=True)
    # the record's Provenance and confirmation Task follow from it: written when valid, never
    # at the cost of the record itself
    provenance = _provenance(uow, event, saved.reference, resident, doctor)
    uow.write_derived(provenance, because="record-service")
    days = _confirmation_days(uow, contract)
    if days:
        task = _confirmation(uow, event, saved.reference, resident, doctor, days)
        uow.write_derived(task, because="record-service-confirmation")
    return saved, True


def _refuse(rule: str, message: str, *expression: str) -> Unprocessable:
    return Unprocessable([Violation(rule, message, expression).issue()])


def _checked(uow: UnitOfWork, event: dict) -> tuple[str, str, dict]:
    residents = queries.by_identifier(uow, "Patient", jn.CARD_SYSTEMS[event["cardType"]], event["cardNumber"])
    if len(residents) != 1:
        what = "no resident holds" if not residents else "more than one resident holds"
        raise _refuse("jiayi-two-card-resident-card", f"{what} the {event['cardType']} {event['cardNumber']}",
                      "residentCardNumber")
    doctors = queries.by_identifier(uow, "Practitioner", (jn.DOCTOR_CARD,), event["doctorCard"])
    if len(doctors) != 1:
        what = "no practitioner holds" if not doctors else "more than one practitioner holds"
        raise _refuse("jiayi-two-card-doctor-card", f"{what} the doctor card {event['doctorCard']}",
                      "doctorCardNumber")
    resident, doctor = f"Patient/{residents[0]['id']}", f"Practitioner/{doctors[0]['id']}"
    contract = contract_in_force(uow, resident, r.today(event["time"]))
    if contract is None:
        raise _refuse("jiayi-two-card-contract", f"{resident} has no family-doctor contract in force on "
                      f"{r.today(event['time'])}", "residentCardNumber")
    team = queries.current(uow, r.care_team(contract))
    if team is None or not _on_team(uow, team, doctor):
        raise _refuse("jiayi-two-card-team", f"{doctor} is not on {r.care_team(contract)}, the team of "
                      f"Contract/{contract['id']}", "doctorCardNumber")
    entitled = _entitled_items(uow, contract, resident)
    outside = [code for code in event["items"] if code not in entitled]
    if outside:
        raise _refuse("jiayi-two-card-item", f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not "
                      f"in the packages of Contract/{contract['id']} for {resident} "
                      f"({', '.join(sorted(entitled)) or 'none'})", "item")
    return resident, doctor, contract


def _on_team(uow: UnitOfWork, team: dict, doctor: str) -> bool:
    for member in r.members(team):
        if member == doctor:
            return True
        if member.startswith("PractitionerRole/"):
            role = queries.current(uow, member)
            if role and el.local_ref(role.get("practitioner")) == doctor:
                return True
    return False


def _entitled_items(uow: UnitOfWork, contract: dict, resident: str) -> set[str]:
    items: set[str] = set()
    for term in contract.get("term") or []:
        offer = term.get("offer") if isinstance(term.get("offer"), dict) else {}
        covered = {el.local_ref(x) for p in offer.get("party") or [] for x in p.get("reference") or []}
        if covered and resident not in covered:
            continue
        package = queries.current(uow, el.local_ref(term.get("topicReference")))
        if package:
            items.update(r.package_items(package))
    return items


def _encounter(event: dict, resident: str, doctor: str, contract: dict) -> dict:
    when = event["time"].isoformat()
    home = any(code in _HOME_ITEMS for code in event["items"])
    extension = [{"url": jn.CONTRACT_EXT, "valueReference": {"reference": f"Contract/{contract['id']}"}}]
    extension += [{"url": jn.SERVICE_ITEM_EXT, "valueCodeableConcept": {"coding": [
        {"system": jn.SERVICE_ITEM, "code": code}]}} for code in event["items"]]
    encounter = {"resourceType": "Encounter", "extension": extension,
                 "identifier": [{"system": jn.TWO_CARD_EVENT, "value": event["eventId"]}],
                 "status": "finished",
                 "class": {"system": _V3_ACT, "code": "HH" if home else "AMB",
                           "display": "home health" if home else "ambulatory"},
                 "subject": {"reference": resident}, "participant": [{"individual": {"reference": doctor}}],
                 "period": {"start": when, "end": when}}
    authority = [el.local_ref(a) for a in contract.get("authority") or []]
    if authority and authority[0]:
        encounter["serviceProvider"] = {"reference": authority[0]}
    return encounter


def _card(code: str, number: str, system: str = jn.CARD_TYPE) -> dict:
    return {"url": jn.CARD_EXT, "extension": [{"url": "type", "valueCoding": {"system": system, "code": code}},
                                             {"url": "number", "valueString": number}]}


def _agent(role: str, who: str, card: dict | None = None) -> dict:
    agent: dict = {"type": {"coding": [{"system": _PARTICIPANT, "code": role}]}, "who": {"reference": who}}
    return {"extension": [card], **agent} if card else agent


def _provenance(uow: UnitOfWork, event: dict, target: str, resident: str, doctor: str) -> dict:
    agents = [_agent("attester", resident, _card(event["cardType"], event["cardNumber"])),
              _agent("performer", doctor, _card("doctor-card", event["doctorCard"]))]
    provenance: dict = {"resourceType": "Provenance", "target": [{"reference": target}],
                        "occurredDateTime": event["time"].isoformat(), "recorded": fhir_instant(uow.now())}
    contained: list[dict] = []
    if event["latitude"] is not None:
        contained.append({"resourceType": "Location", "id": "place", "mode": "instance",
                          "position": {"latitude": event["latitude"], "longitude": event["longitude"]}})
        provenance["location"] = {"reference": "#place"}
    if event["terminal"]:
        contained.append({"resourceType": "Device", "id": "terminal",
                          "identifier": [{"system": jn.SID + "terminal", "value": event["terminal"]}]})
        agents.append(_agent("enterer", "#terminal"))
    if contained:
        provenance["contained"] = contained
    provenance["agent"] = agents
    provenance["activity"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                          "code": "CREATE"}], "text": "两卡制服务记录"}
    return provenance


def _confirmation_days(uow: UnitOfWork, contract: dict) -> int | None:
    for authority in contract.get("authority") or []:
        org = queries.current(uow, el.local_ref(authority))
        days = el.ext_value(org, CONFIRMATION_DAYS, "PositiveInt") if org else None
        if isinstance(days, int) and days > 0:
            return days
    return None


def _confirmation(uow: UnitOfWork, event: dict, target: str, resident: str, doctor: str, days: int) -> dict:
    due = (event["time"] + dt.timedelta(days=days)).isoformat()
    return {"resourceType": "Task", "status": "requested", "intent": "order",
            "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "approve"}],
                     "text": "随访确认"},
            "description": "请确认家庭医生服务记录（两卡制）", "focus": {"reference": target},
            "for": {"reference": resident}, "authoredOn": fhir_instant(uow.now()),
            "requester": {"reference": doctor}, "owner": {"reference": resident},
            "restriction": {"period": {"end": due}}}
