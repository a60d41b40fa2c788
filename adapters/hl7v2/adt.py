"""ADT: A01/A04/A08/A28/A31/A05 (Patient; Encounter for A01/A04) and A40 (merge: Patient.link)."""

from __future__ import annotations

from . import datatypes as dt
from .conversion import Conversion
from .er7 import Segment
from .errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, Location, Problem
from .parties import facility_org
from .patient import add_patient
from .tables import table

ADT_PATIENT = ("A01", "A04", "A08", "A28", "A31", "A05")


def patient_event(conv: Conversion) -> None:
    msg = conv.msg
    patient = add_patient(conv, msg.first("PID"), update=True)
    if msg.trigger not in ("A01", "A04"):
        return
    pv1 = msg.first("PV1")
    if pv1 is None:
        conv.warnings.append(Problem(REQUIRED_FIELD_MISSING, "no PV1 segment: no Encounter written",
                                     Location("PV1", 1), "W"))
        return
    patient_class = pv1.get(2)
    target = table("patient-class").get(patient_class)
    if target is None:
        if patient_class:
            conv.warn(pv1, 2, f"patient class {patient_class!r} not mapped; encounter class AMB")
        target_code, target_display = "AMB", "ambulatory"
    else:
        target_code, target_display = target.code, target.display or target.code
    visit = dt.first(pv1, 19)
    identifier, _ = dt.cx(visit, conv.facility) if visit is not None else (None, None)
    identifier = identifier or conv.message_identifier("PV1-1")
    identifier.pop("type", None)
    encounter: dict = {"resourceType": "Encounter", "identifier": [identifier],
                       "status": "in-progress" if msg.trigger == "A01" else "arrived",
                       "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": target_code,
                                 "display": target_display},
                       "subject": patient}
    start = conv.timestamp(pv1, 44, what="admit date/time") or conv.timestamp(
        msg.first("EVN"), 2, what="recorded date/time") or dt.ts(msg.timestamp)
    if start:
        encounter["period"] = {"start": start}
    participants = []
    for field, code in ((7, "ATND"), (8, "REF"), (9, "CON")):
        for rep in dt.reps(pv1, field):
            name = dt.xcn_name(rep)
            if name:
                participants.append({"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                           "v3-ParticipationType", "code": code}]}],
                                     "individual": {"display": name["text"]}})
    if participants:
        encounter["participant"] = participants
    location = dt.first(pv1, 3)
    if location is not None:
        text = "/".join(x for x in (location.s(4, 1), location.c(1), location.c(2), location.c(3)) if x)
        if text:
            encounter["location"] = [{"location": {"display": text}}]
    provider = facility_org(conv, msg.sending_facility or msg.sending_application)
    if provider:
        encounter["serviceProvider"] = provider
    conv.upsert("encounter", encounter, identifier)


def merge(conv: Conversion) -> None:
    """ADT^A40: each PID/MRG pair merges MRG-1's patient into PID's (Patient.link semantics)."""
    msg = conv.msg
    pairs: list[tuple[Segment, Segment]] = []
    pid = None
    for seg in msg.segments:
        if seg.id == "PID":
            pid = seg
        elif seg.id == "MRG" and pid is not None:
            pairs.append((pid, seg))
            pid = None
    if not pairs:
        raise conv.fail(REQUIRED_FIELD_MISSING, "ADT^A40 needs a PID followed by an MRG segment", Location("MRG", 1))
    for number, (pid, mrg) in enumerate(pairs, start=1):
        survivor = add_patient(conv, pid, update=True, tag=f"patient-{number}")
        old_ids = []
        for index, rep in enumerate(dt.reps(mrg, 1), start=1):
            identifier, problem = dt.cx(rep, conv.facility)
            if problem:
                raise conv.fail(DATA_TYPE_ERROR, problem, mrg.location(1, index))
            if identifier:
                old_ids.append(identifier)
        if not old_ids:
            raise conv.fail(REQUIRED_FIELD_MISSING, "MRG-1 (prior patient identifier list) is required",
                            mrg.location(1))
        old_ids.sort(key=lambda i: i["system"] != dt.ID_CARD)
        old = {"resourceType": "Patient", "identifier": old_ids, "active": False,
               "link": [{"other": {"reference": survivor["reference"]}, "type": "replaced-by"}]}
        old_url = conv.upsert(f"merged-{number}", old, old_ids[0])
        survivor_entry = next(e for e in conv.entries if e["fullUrl"] == survivor["reference"])
        survivor_entry["resource"]["link"] = [{"other": {"reference": old_url}, "type": "replaces"}]
