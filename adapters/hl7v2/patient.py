"""PID → Patient (身份证号 first among the identifiers), and the Patient entry of a Bundle."""

from __future__ import annotations

from adapters.data_files import ig_codes

from . import datatypes as dt
from .conversion import _GB3304, SD, Conversion
from .er7 import Segment
from .errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND, Location
from .tables import table


def _ethnicity(conv: Conversion, pid: Segment) -> dict | None:
    rep = dt.first(pid, 22)
    if rep is None:
        return None
    system = dt.code_system(rep.c(3)) if rep.c(3) else None
    code, text = rep.c(1), rep.c(2)
    if system != _GB3304 and not (system is None and code.isdigit() and len(code) == 2 and dt.cjk(text)):
        return None  # not GB 3304 (e.g. a CDC race/ethnicity code): not a Jiayi ethnicity
    if code not in ig_codes("gb3304"):
        conv.invalid(pid, 22, f"PID-22 民族 {code!r} is not a GB/T 3304 code (01 汉族 ... 56 基诺族, 97-99)",
                     code=TABLE_VALUE_NOT_FOUND)
        return None
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
    born = conv.timestamp(pid, 7, date_only=True, what="birth date")
    if born:
        patient["birthDate"] = born
    addresses = [a for a in (dt.xad(r) for r in dt.reps(pid, 11)) if a]
    if addresses:
        patient["address"] = addresses
    died = conv.timestamp(pid, 29, what="death date/time")
    if died:
        patient["deceasedDateTime"] = died
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
