"""Inbound HL7 v2 messages → one FHIR transaction Bundle each.

Supported (``SUPPORTED``): ADT^A01/A04/A08/A28/A31 (Patient; Encounter for A01/A04),
ADT^A40 (merge: Patient.link replaces / replaced-by, the old one inactive), REF^I12
(referral ServiceRequest + Task, Patient, Practitioners, Organizations, Conditions, notes,
supporting Observations), RRI^I12 (the referral Task's progress, the downward return
referral) and ORU^R01 (Observations and DiagnosticReports).  Anything else is refused
(AR, 200/201).  The segment-to-element tables are in ``mappings/hl7v2/segments.md``.

Every write is conditional on an identifier, so the same message processed twice changes
nothing: Patients on their identifiers (ADT: conditional update; other messages:
conditional create), referrals on RF1-6/RF1-11, results on the filler order number, and
what has no identifier of its own on one derived from the message
(``SID/hl7v2-message`` = sender/control id/segment).  Full URLs are ``urn:uuid:`` values
derived from the message, so the same message always gives the same Bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fhir_server.core.national_ids import uscc_problems

from . import datatypes as dt
from .conversion import (  # noqa: F401  (the names other modules import from here)
    _DIRECTIONS,
    _GB3304,
    _NS,
    _NUMBER,
    CS,
    FACILITY_SID,
    LOINC,
    MESSAGE_SID,
    OWN_NAMESPACE,
    REFERRAL_CATEGORY,
    REFERRAL_PROFILE,
    REFERRAL_TASK_PROFILE,
    SD,
    SID,
    SNOMED,
    Conversion,
    criteria,
    nte_text,
    token,
)
from .er7 import Message, Segment
from .errors import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    UNSUPPORTED_EVENT_CODE,
    UNSUPPORTED_MESSAGE_TYPE,
    Location,
    Problem,
    reject,
)
from .results import ResultGroup, add_results, observation_from_obx, results  # noqa: F401
from .tables import table

ADT_PATIENT = ("A01", "A04", "A08", "A28", "A31", "A05")
SUPPORTED = {"ADT": (*ADT_PATIENT, "A40"), "REF": ("I12",), "RRI": ("I12",), "ORU": ("R01",)}


# --- Patient (PID) ---------------------------------------------------------------------------

def _ethnicity(conv: Conversion, pid: Segment) -> dict | None:
    rep = dt.first(pid, 22)
    if rep is None:
        return None
    system = dt.code_system(rep.c(3)) if rep.c(3) else None
    code, text = rep.c(1), rep.c(2)
    if system != _GB3304 and not (system is None and code.isdigit() and len(code) == 2 and dt.cjk(text)):
        return None  # not GB 3304 (e.g. a CDC race/ethnicity code): not a Jiayi ethnicity
    concept: dict = {"coding": [{"system": _GB3304, "code": code, **({"display": text} if text else {})}]}
    if text:
        concept["text"] = text
    return {"url": SD + "jiayi-ethnicity", "valueCodeableConcept": concept}


def patient_resource(conv: Conversion, pid: Segment) -> tuple[dict, dict]:
    """Patient from PID and the identifier to match it on (身份证号 first)."""
    identifiers: list[dict] = []
    for field in (3, 2, 4):
        for index, rep in enumerate(dt.reps(pid, field), start=1):
            identifier, problem = dt.cx(rep, conv.facility)
            if problem:
                raise conv.fail(DATA_TYPE_ERROR, problem, pid.location(field, index))
            if identifier and not any(i["system"] == identifier["system"] and i["value"] == identifier["value"]
                                      for i in identifiers):
                identifiers.append(identifier)
    ssn = pid.get(19)
    if ssn and len(ssn) in (15, 18):
        number, problems = dt.normalize_id_card(ssn)
        if not problems and not any(i["value"] == number for i in identifiers):
            identifiers.append({"system": dt.ID_CARD, "value": number})
    if not identifiers:
        raise conv.fail(REQUIRED_FIELD_MISSING, "PID-3 (patient identifier list) is required", pid.location(3))
    identifiers.sort(key=lambda i: i["system"] != dt.ID_CARD)
    patient: dict = {"resourceType": "Patient", "identifier": identifiers, "active": True}
    names = [n for n in (dt.xpn(r) for r in dt.reps(pid, 5)) if n]
    if names:
        patient["name"] = names
    telecom = [t for t in (dt.xtn(r) for r in dt.reps(pid, 13)) if t]
    for rep in dt.reps(pid, 14):
        point = dt.xtn(rep)
        if point:
            point.setdefault("use", "work")
            telecom.append(point)
    if telecom:
        patient["telecom"] = telecom
    sex = pid.get(8)
    if sex:
        gender = table("sex").code(sex)
        if gender:
            patient["gender"] = gender
        else:
            conv.warn(pid, 8, f"sex {sex!r} is not in table 0001; left out")
    born = pid.get(7)
    if born:
        date = dt.ts(born, date_only=True)
        if date:
            patient["birthDate"] = date
        else:
            conv.warn(pid, 7, f"birth date {born!r} is not a valid date; left out")
    addresses = [a for a in (dt.xad(r) for r in dt.reps(pid, 11)) if a]
    if addresses:
        patient["address"] = addresses
    died = pid.get(29)
    if died and dt.ts(died):
        patient["deceasedDateTime"] = dt.ts(died)
    elif pid.get(30).upper() == "Y":
        patient["deceasedBoolean"] = True
    ethnicity = _ethnicity(conv, pid)
    if ethnicity:
        patient["extension"] = [ethnicity]
    return patient, identifiers[0]


def add_patient(conv: Conversion, pid: Segment | None, update: bool, tag: str = "patient") -> dict:
    if pid is None:
        raise conv.fail(REQUIRED_FIELD_MISSING, "the message has no PID segment", Location("PID", 1))
    patient, key = patient_resource(conv, pid)
    url = conv.upsert(tag, patient, key) if update else conv.create(tag, patient, key)
    ref = {"reference": url}
    if patient.get("name"):
        ref["display"] = patient["name"][0]["text"]
    conv.patient_ref = ref
    return ref


# --- Organizations, Practitioners -------------------------------------------------------

def facility_org(conv: Conversion, namespace: str, universal: str = "", name: str = "",
                 identifier: dict | None = None, tag: str = "") -> dict | None:
    """An Organization (conditional create) for a facility, by its identifier or HD."""
    if identifier is None:
        key = namespace or universal
        if not key:
            return None
        identifier = {"system": FACILITY_SID, "value": key}
    org: dict = {"resourceType": "Organization", "identifier": [identifier], "active": True,
                 "name": name or namespace or universal or identifier["value"]}
    url = conv.create(tag or f"org:{identifier['system']}|{identifier['value']}", org, identifier)
    for entry in conv.entries[:-1]:  # one Organization per identifier in a Bundle
        if entry["resource"]["resourceType"] == "Organization" and entry["resource"]["identifier"][0] == identifier:
            conv.entries.pop()
            return {"reference": entry["fullUrl"], "display": entry["resource"]["name"]}
    return {"reference": url, "display": org["name"]}


def xon_identifier(rep: dt.Rep) -> dict | None:
    """XON (name^type^id^check^scheme^authority^id type^facility^rep code^identifier) → Identifier."""
    value = rep.c(10) or rep.c(3)
    if not value:
        return None
    target = table("identifier-type").get(rep.c(7))
    if target:
        return {"system": target.code, "value": value}
    if len(value) == 18 and not uscc_problems(value):
        return {"system": SID + "uscc", "value": value}
    system = dt.authority_system(*dt.hd(rep, 6))
    return {"system": system or FACILITY_SID, "value": value}


def prd_parties(conv: Conversion, prd: Segment, fallback_facility: str) -> tuple[dict | None, dict | None]:
    """PRD → (Practitioner reference or None, Organization reference or None)."""
    org = None
    xon = dt.first(prd, 10)
    if xon is not None:
        identifier = xon_identifier(xon)
        if identifier:
            org = facility_org(conv, "", "", xon.c(1), identifier)
    location = dt.first(prd, 4)
    if org is None and location is not None and location.s(4, 1):
        org = facility_org(conv, location.s(4, 1), location.s(4, 2), xon.c(1) if xon else "")
    if org is None:
        org = facility_org(conv, fallback_facility, "", xon.c(1) if xon else "")
    names = [n for n in (dt.xpn(r) for r in dt.reps(prd, 2)) if n]
    identifiers = []
    for rep in dt.reps(prd, 7):
        if not rep.c(1):
            continue
        target = table("identifier-type").get(rep.c(2))
        facility = (org or {}).get("display") or fallback_facility
        system = target.code if target else dt.LOCAL_SID + quote(fallback_facility or facility, safe="") + "/provider"
        identifiers.append({"system": system, "value": rep.c(1)})
    if not identifiers:
        if names:
            return {"display": names[0]["text"]}, org
        return None, org
    practitioner: dict = {"resourceType": "Practitioner", "identifier": identifiers, "active": True}
    if names:
        practitioner["name"] = names
    telecom = [t for t in (dt.xtn(r) for r in dt.reps(prd, 5)) if t]
    if telecom:
        practitioner["telecom"] = telecom
    addresses = [a for a in (dt.xad(r) for r in dt.reps(prd, 3)) if a]
    if addresses:
        practitioner["address"] = addresses
    url = conv.create(f"practitioner:{identifiers[0]['system']}|{identifiers[0]['value']}", practitioner,
                      identifiers[0])
    ref = {"reference": url}
    if names:
        ref["display"] = names[0]["text"]
    return ref, org


# --- Conditions (DG1), notes (NTE) --------------------------------------------------------

def add_condition(conv: Conversion, dg1: Segment) -> dict | None:
    code = dt.cwe(dt.first(dg1, 3))
    if code is None and dg1.get(4):
        code = {"text": dg1.get(4)}
    if code is None:
        conv.warn(dg1, 3, "DG1 without a diagnosis code or description; left out")
        return None
    identifier = None
    ident_rep = dt.first(dg1, 20)
    if ident_rep is not None:
        identifier = dt.ei(ident_rep, conv.facility)
    identifier = identifier or conv.message_identifier(f"DG1-{dg1.sequence}")
    condition: dict = {"resourceType": "Condition", "identifier": [identifier],
                       "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                      "condition-clinical", "code": "active"}]},
                       "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                 "condition-category", "code": "encounter-diagnosis"}]}],
                       "code": code, "subject": conv.patient_ref}
    verification = table("diagnosis-type").code(dg1.get(6))
    if verification:
        condition["verificationStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                       "condition-ver-status", "code": verification}]}
    onset = dt.ts(dg1.get(5))
    if onset:
        condition["onsetDateTime"] = onset
    url = conv.create(f"DG1-{dg1.sequence}", condition, identifier)
    return {"reference": url, "display": code.get("text") or code["coding"][0].get("display", code["coding"][0]["code"])}


# --- message types -------------------------------------------------------------------------

def _adt(conv: Conversion) -> None:
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
    start = dt.ts(pv1.get(44)) or dt.ts((msg.first("EVN") or pv1).get(2) if msg.first("EVN") else "") or dt.ts(
        msg.timestamp)
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


def _merge(conv: Conversion) -> None:
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


def _direction(rf1: Segment | None, default: str) -> tuple[str, str]:
    if rf1 is not None:
        for value in (rf1.get(3, 1), rf1.get(3, 2)):
            if value in _DIRECTIONS or value.upper() in _DIRECTIONS:
                return _DIRECTIONS.get(value) or _DIRECTIONS[value.upper()]
    return _DIRECTIONS[default]


def _referral_ids(conv: Conversion, rf1: Segment | None) -> list[dict]:
    ids = []
    if rf1 is not None:
        for field in (6, 11):
            identifier = dt.ei(dt.first(rf1, field), conv.facility)
            if identifier and identifier not in ids:
                ids.append(identifier)
    return ids


def _providers(conv: Conversion) -> dict[str, list[tuple[dict | None, dict | None]]]:
    out: dict[str, list] = {}
    for prd in conv.msg.all("PRD"):
        role = prd.get(1).upper()
        fallback = conv.msg.sending_facility if role in ("RP", "PP") else conv.msg.receiving_facility
        out.setdefault(role, []).append(prd_parties(conv, prd, fallback or ""))
    return out


def _notes(conv: Conversion, skip_groups: bool = True) -> list[dict]:
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


def _referral(conv: Conversion, rf1: Segment | None, ids: list[dict], direction: tuple[str, str],
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
    authored = dt.ts(rf1.get(7)) if rf1 is not None else None
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


def _task(conv: Conversion, sr_url: str, ids: list[dict], owner: dict | None, requester: dict | None,
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


def _ref(conv: Conversion) -> None:
    msg = conv.msg
    rf1 = msg.first("RF1")
    patient = add_patient(conv, msg.first("PID"), update=False)
    del patient
    providers = _providers(conv)
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
    ids = _referral_ids(conv, rf1) or [conv.message_identifier("RF1-1")]
    sr_url, sr = _referral(conv, rf1, ids, _direction(rf1, "upward"), requester, performers, conditions,
                           supporting, _notes(conv), [], "referral")
    task_url = _task(conv, sr_url, ids, owner, requester, sr.get("authoredOn"), "referral-task", sr.get("priority"))
    conv.tasks.append({"fullUrl": task_url, "status": "requested", "sender": msg.sender})


def _rri(conv: Conversion) -> None:
    """RRI^I12: the referral (RF1-6) moves on; RF1-11 with it names the downward return referral."""
    msg = conv.msg
    rf1 = msg.first("RF1")
    original = dt.first(rf1, 6) if rf1 is not None else None
    if rf1 is None or original is None or not original.c(1):
        raise conv.fail(REQUIRED_FIELD_MISSING, "RF1-6 (originating referral identifier) names the referral "
                        "this response is about", Location("RF1", 1, 6))
    if original.c(2).upper() == OWN_NAMESPACE and not original.c(3):
        sr_criteria = f"ServiceRequest?_id={quote(original.c(1), safe='')}"
        task_criteria = f"Task?focus={quote('ServiceRequest/' + original.c(1), safe='')}"
    else:
        identifier = dt.ei(original, conv.facility) or {}
        sr_criteria, task_criteria = criteria("ServiceRequest", identifier), criteria("Task", identifier)
    status_code = rf1.get(1)
    ret = dt.first(rf1, 11)
    returning = ret is not None and ret.c(1)
    status = table("referral-status").code(status_code)
    if status is None:
        if status_code:
            raise conv.fail("103", f"referral status {status_code!r} is not in table 0283 "
                            f"(A, P, R, E) nor a Jiayi local code (RC, IP, CM, CA)", rf1.location(1))
        status = "completed" if returning else None
    add_patient(conv, msg.first("PID"), update=False)
    operations: list[dict] = []

    def op(kind: str, path: str, name: str | None = None, **value) -> None:
        parts = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
        if name:
            parts.append({"name": "name", "valueString": name})
        for key, val in value.items():
            if key == "parts":
                parts.append({"name": "value", "part": val})
            else:
                parts.append({"name": "value", key: val})
        operations.append({"name": "operation", "part": parts})

    if status:
        op("replace", "Task.status", valueCode=status)
    reason_text = "; ".join(x for x in (rf1.get(10, 2) or rf1.get(10, 1),
                                        *[n["text"] for n in _notes(conv)]) if x)
    if status == "rejected" and not reason_text:
        reason_text = "接收方拒绝转诊（RRI^I12 未说明理由）"
    if status in ("rejected", "failed", "cancelled") and reason_text:
        op("delete", "Task.statusReason")
        op("add", "Task", "statusReason", valueCodeableConcept={"text": reason_text})
    if returning:
        providers = _providers(conv)
        referring = (providers.get("RP") or [(None, None)])[0]
        referred = (providers.get("RT") or [(None, None)])[0]
        requester_org = referring[1] or facility_org(conv, msg.sending_facility or msg.sending_application)
        owner = referred[1] or facility_org(conv, msg.receiving_facility or msg.receiving_application)
        requester = referring[0] if referring[0] and "reference" in referring[0] else requester_org
        conditions = [c for c in (add_condition(conv, dg1) for dg1 in msg.all("DG1")) if c]
        supporting = add_results(conv, results(conv, msg.segments), with_reports=False)
        ids = [i for i in [dt.ei(ret, conv.facility)] if i]
        down_url, down = _referral(conv, rf1, ids, _direction(None, "downward"), requester,
                                   [p for p in (owner, referred[0]) if p and "reference" in p], conditions,
                                   supporting, _notes(conv), [{"reference": sr_criteria}], "return-referral")
        down["code"] = {"text": "下转转诊 (回转)"}
        task_url = _task(conv, down_url, ids, owner, requester, down.get("authoredOn"), "return-task",
                         down.get("priority"))
        conv.tasks.append({"fullUrl": task_url, "status": "requested", "sender": msg.sender})
        op("add", "Task", "output", parts=[
            {"name": "type", "valueCodeableConcept": {"text": "回转单"}},
            {"name": "value", "valueReference": {"reference": down_url}}])
    if not operations:
        raise conv.fail(REQUIRED_FIELD_MISSING, "RF1-1 (referral status) or RF1-11 (return referral) is needed",
                        rf1.location(1))
    conv.tags[conv.full_url("task-progress")] = "task-progress"
    conv.entries.append({"fullUrl": conv.full_url("task-progress"),
                         "resource": {"resourceType": "Parameters", "parameter": operations},
                         "request": {"method": "PATCH", "url": task_criteria}})
    conv.tasks.append({"criteria": task_criteria, "status": status, "sender": msg.sender})
    sr_status = {"completed": "completed", "rejected": "revoked", "cancelled": "revoked"}.get(status or "")
    if sr_status:
        conv.tags[conv.full_url("referral-status")] = "referral-status"
        conv.entries.append({"fullUrl": conv.full_url("referral-status"),
                             "resource": {"resourceType": "Parameters", "parameter": [
                                 {"name": "operation", "part": [
                                     {"name": "type", "valueCode": "replace"},
                                     {"name": "path", "valueString": "ServiceRequest.status"},
                                     {"name": "value", "valueCode": sr_status}]}]},
                             "request": {"method": "PATCH", "url": sr_criteria}})


def _oru(conv: Conversion) -> None:
    add_patient(conv, conv.msg.first("PID"), update=False)
    groups = results(conv, conv.msg.segments)
    if not any(g.observations or g.forms for g in groups):
        raise conv.fail(REQUIRED_FIELD_MISSING, "ORU^R01 without OBX results", Location("OBX", 1))
    add_results(conv, groups, with_reports=True)


CONVERTERS: dict[str, Callable[[Conversion], None]] = {
    **{f"ADT^{t}": _adt for t in ADT_PATIENT}, "ADT^A40": _merge, "REF^I12": _ref, "RRI^I12": _rri,
    "ORU^R01": _oru,
}


def check_supported(msg: Message) -> Callable[[Conversion], None]:
    msg.check_version()
    if not msg.control_id:
        raise reject(REQUIRED_FIELD_MISSING, "MSH-10 (message control id) is required", Location("MSH", 1, 10))
    converter = CONVERTERS.get(msg.type)
    if converter is not None:
        return converter
    supported = ", ".join(sorted(CONVERTERS))
    if msg.message_code in SUPPORTED:
        raise reject(UNSUPPORTED_EVENT_CODE, f"{msg.type} is not supported (supported: {supported})",
                     Location("MSH", 1, 9, None, 2))
    raise reject(UNSUPPORTED_MESSAGE_TYPE, f"message type {msg.type or '(none)'} is not supported "
                 f"(supported: {supported})", Location("MSH", 1, 9))


def convert(msg: Message) -> Conversion:
    """The transaction Bundle (``conv.bundle()``) a message becomes; raises :class:`HL7Error`."""
    converter = check_supported(msg)
    conv = Conversion(msg)
    converter(conv)
    return conv
