"""高血压 / 2型糖尿病患者随访服务记录表 ↔ a follow-up Encounter, its Observations and its medicines
(:mod:`.medication`)."""

from __future__ import annotations

from .. import tables
from . import medication
from .common import (
    CS,
    DOCTOR_CARD,
    HEALTH_RECORD,
    ID_CARD,
    LOINC,
    SD,
    SID,
    UCUM,
    USCC,
    Unit,
    apply_fields,
    code_of,
    concept,
    edition_tag,
    ident_value,
    organization,
    patient_ref,
    plain_put,
    practitioner,
    read_edition,
    read_fields,
)

VISIT_SYSTEMS = {"hypertension-follow-up": SID + "hypertension-follow-up",
                 "diabetes-follow-up": SID + "diabetes-follow-up"}
SERVICE_ITEM = {"hypertension-follow-up": ("hypertension-follow-up", "高血压患者随访"),
                "diabetes-follow-up": ("diabetes-follow-up", "2型糖尿病患者随访")}
ENCOUNTER_CLASS = {"clinic": ("AMB", "ambulatory"), "home": ("HH", "home health"), "phone": ("VR", "virtual")}
_VITAL = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                       "code": "vital-signs", "display": "Vital Signs"}]}]
_SURVEY = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey", "display": "Survey"}]}]
_LAB_CODES = {"1558-6", "4548-4"}
_LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                     "code": "laboratory", "display": "Laboratory"}]}]


def visit_key(record_type: str, record: dict) -> str:
    if record.get("visit_no"):
        return record["visit_no"]
    who = record.get("record_no") or record.get("id_number")
    return f"{who}-{record['visit_date'].replace('-', '')}"


def follow_up(record_type: str, rows: list[int], records: list[dict]) -> Unit:
    record = records[0]
    key = visit_key(record_type, record)
    system = VISIT_SYSTEMS[record_type]
    unit = Unit(record_type, rows, key)
    enc: dict = {"resourceType": "Encounter", "identifier": [{"system": system, "value": key}],
                 "status": "finished"}
    apply_fields(record_type, record, enc)
    enc["period"]["end"] = record["visit_date"]  # a visit of that day (date searches need both ends)
    method = next(c["code"] for c in enc["type"][0]["coding"] if c["system"] == CS + "follow-up-method")
    act, act_name = ENCOUNTER_CLASS[method]
    enc["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": act, "display": act_name}
    item, item_name = SERVICE_ITEM[record_type]
    enc["extension"] = [{"url": SD + "jiayi-service-item", "valueCodeableConcept": {
        "coding": [{"system": CS + "service-item", "code": item, "display": item_name}], "text": item_name}}]
    enc["subject"] = patient_ref(record)
    if record.get("doctor_card"):
        enc["participant"] = [{"individual": practitioner(unit, record["doctor_card"], record.get("doctor"))}]
    else:
        enc["participant"] = [{"individual": {"display": record["doctor"]}}]
    if record.get("institution_code"):
        enc["serviceProvider"] = organization(unit, record["institution_code"], record.get("institution"))
    edition_tag(records, enc)
    enc_entry = plain_put("Encounter", f"{system}|{key}", enc)
    unit.entries.append(enc_entry)
    observations: dict[str, dict] = {}
    when = record["visit_date"]
    for fld in tables.form(record_type).fields:
        if fld.kind != "obs" or record.get(fld.key) is None:
            continue
        system_code, value_kind = fld.args[0], fld.args[1]
        cs, code = system_code.split("|")
        obs = observations.get(system_code)
        if obs is None:
            obs = {"resourceType": "Observation",
                   "identifier": [{"system": system, "value": f"{key}/{code}"}], "status": "final",
                   "category": _LAB if code in _LAB_CODES else _VITAL if cs == LOINC else _SURVEY,
                   "code": {"coding": [{"system": cs, "code": code}], "text": fld.header},
                   "subject": enc["subject"], "encounter": {"reference": enc_entry.full_url},
                   "effectiveDateTime": when}
            observations[system_code] = obs
        value = record[fld.key]
        if value_kind == "quantity":
            obs["valueQuantity"] = _quantity(value, fld.args[2])
        elif value_kind == "component":
            obs["code"]["text"] = "血压"
            comp_cs, comp_code = fld.args[2].split("|")
            obs.setdefault("component", []).append(
                {"code": {"coding": [{"system": comp_cs, "code": comp_code}], "text": fld.header},
                 "valueQuantity": _quantity(value, fld.args[3])})
        elif value_kind == "concept":
            obs["valueCodeableConcept"] = concept(fld, value, record)
        elif value_kind == "date":
            obs["valueDateTime"] = value
        elif value_kind == "string":
            obs["valueString"] = value
        elif value_kind == "components":  # several codes in one cell: one component each
            comp_cs, comp_code = fld.args[2].split("|")
            obs["component"] = [{"code": {"coding": [{"system": comp_cs, "code": comp_code}], "text": fld.header},
                                 "valueCodeableConcept": concept(fld, code, record)} for code in value]
    for system_code, obs in observations.items():
        unit.entries.append(plain_put("Observation", f"{system}|{key}/{system_code}", obs))
    unit.entries += medication.medications(record_type, record, system, key, enc["subject"], enc_entry.full_url,
                                           enc["participant"][0]["individual"])
    return unit


def _quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def read_follow_up(record_type: str, enc: dict, observations: list[dict], resolve,
                   medicines: list[dict] | tuple = ()) -> dict:
    """The form's record of a follow-up Encounter, its Observations and its MedicationStatements
    and MedicationRequests."""
    record: dict = {}
    read_fields(record_type, enc, record)
    read_edition(enc, record)
    system = VISIT_SYSTEMS[record_type]
    key = ident_value(enc, system)
    if enc.get("period", {}).get("start"):
        record["visit_date"] = enc["period"]["start"][:10]
    patient = resolve((enc.get("subject") or {}).get("reference"))
    if patient:
        record["id_number"] = ident_value(patient, ID_CARD)
        record["record_no"] = ident_value(patient, HEALTH_RECORD)
        if patient.get("name"):
            record["name"] = patient["name"][0].get("text")
    if key and key != f"{record.get('record_no') or record.get('id_number')}-{record.get('visit_date', '').replace('-', '')}":
        record["visit_no"] = key
    individual = ((enc.get("participant") or [{}])[0].get("individual")) or {}
    doc = resolve(individual.get("reference"))
    if doc:
        record["doctor_card"] = ident_value(doc, DOCTOR_CARD)
        if doc.get("name"):
            record["doctor"] = doc["name"][0].get("text")
    elif individual.get("display"):
        record["doctor"] = individual["display"]
    org = resolve((enc.get("serviceProvider") or {}).get("reference"))
    if org:
        record["institution_code"] = ident_value(org, USCC)
        record["institution"] = org.get("name")
    by_code = {}
    for obs in observations:
        c = obs["code"]["coding"][0]
        by_code[f"{c['system']}|{c['code']}"] = obs
    for fld in tables.form(record_type).fields:
        if fld.kind != "obs":
            continue
        found = by_code.get(fld.args[0])
        if found is None:
            continue
        obs = found
        value_kind = fld.args[1]
        if value_kind == "quantity" and "valueQuantity" in obs:
            record[fld.key] = obs["valueQuantity"]["value"]
        elif value_kind == "component":
            want = fld.args[2].split("|")[1]
            for comp in obs.get("component", []):
                if comp["code"]["coding"][0]["code"] == want:
                    record[fld.key] = comp["valueQuantity"]["value"]
        elif value_kind == "concept":
            code = code_of(fld, obs.get("valueCodeableConcept"), record)
            if code:
                record[fld.key] = code
        elif value_kind == "date" and obs.get("valueDateTime"):
            record[fld.key] = obs["valueDateTime"][:10]
        elif value_kind == "string" and obs.get("valueString"):
            record[fld.key] = obs["valueString"]
        elif value_kind == "components":
            codes = [code_of(fld, comp.get("valueCodeableConcept"), record) for comp in obs.get("component", [])]
            if codes:
                record[fld.key] = [c for c in codes if c]
    medication.read_medications(record_type, system, list(medicines), record)
    return {k: v for k, v in record.items() if v is not None}
