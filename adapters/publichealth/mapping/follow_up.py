"""高血压 / 2型糖尿病患者随访服务记录表 ↔ a follow-up Encounter, its Observations and its medicines
(:mod:`.medication`)."""

from __future__ import annotations

from . import medication, observations
from .common import (
    CS,
    DOCTOR_CARD,
    SD,
    SID,
    USCC,
    Unit,
    apply_fields,
    edition_tag,
    ident_value,
    organization,
    patient_ref,
    plain_put,
    practitioner,
    read_edition,
    read_fields,
    read_resident_ids,
)

VISIT_SYSTEMS = {"hypertension-follow-up": SID + "hypertension-follow-up",
                 "diabetes-follow-up": SID + "diabetes-follow-up"}
SERVICE_ITEM = {"hypertension-follow-up": ("hypertension-follow-up", "高血压患者随访"),
                "diabetes-follow-up": ("diabetes-follow-up", "2型糖尿病患者随访")}
ENCOUNTER_CLASS = {"clinic": ("AMB", "ambulatory"), "home": ("HH", "home health"), "phone": ("VR", "virtual")}
# 随访医生 left blank: the participant is the family doctor of the contract in force on the visit
# day, found when the unit is written (publichealth/derived.py), and the Encounter says so.
DOCTOR_FROM_CONTRACT = "doctor_from_contract"
DERIVED_TAG = {"system": CS + "import-derivation", "code": "participant-from-contract",
               "display": "随访医生 not in the form: the family doctor of the contract in force"}


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
    elif record.get("doctor"):
        enc["participant"] = [{"individual": {"display": record["doctor"]}}]
    else:
        enc["participant"] = [{"individual": {}}]  # filled in place (the medicines' requester too)
        enc["meta"] = {"tag": [dict(DERIVED_TAG)]}
        unit.extra[DOCTOR_FROM_CONTRACT] = record["visit_date"]
    if record.get("institution_code"):
        enc["serviceProvider"] = organization(unit, record["institution_code"], record.get("institution"))
    edition_tag(records, enc)
    enc_entry = plain_put("Encounter", f"{system}|{key}", enc)
    unit.entries.append(enc_entry)
    unit.entries += observations.build(record_type, record, system, key, enc["subject"], enc_entry.full_url,
                                       record["visit_date"], observations.SURVEY)
    unit.entries += medication.medications(record_type, record, system, key, enc["subject"], enc_entry.full_url,
                                           enc["participant"][0]["individual"])
    return unit


def read_follow_up(record_type: str, enc: dict, visit_observations: list[dict], resolve,
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
    read_resident_ids(resolve((enc.get("subject") or {}).get("reference")), record)
    if key and key != (f"{record.get('record_no') or record.get('id_number')}-"
                       f"{record.get('visit_date', '').replace('-', '')}"):
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
    observations.read(record_type, visit_observations, record)
    medication.read_medications(record_type, system, list(medicines), record)
    return {k: v for k, v in record.items() if v is not None}
