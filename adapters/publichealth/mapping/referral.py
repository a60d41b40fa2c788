"""双向转诊单 (转出单 / 回转单) ↔ referral ServiceRequest + Task."""

from __future__ import annotations

from .common import (
    DOCTOR_CARD,
    REFERRAL_NUMBER,
    ROLE_ID,
    SD,
    USCC,
    Unit,
    apply_fields,
    conditional_put,
    create_once,
    edition_tag,
    ident_value,
    organization,
    patient_ref,
    practitioner,
    read_edition,
    read_fields,
    read_resident_ids,
)

_REFERRAL = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}],
             "text": "转诊"}

def referral(rows: list[int], records: list[dict]) -> Unit:
    record = records[0]
    unit = Unit("referral", rows, record["referral_no"])
    sr: dict = {"resourceType": "ServiceRequest"}
    apply_fields("referral", record, sr)
    direction = sr["extension"][0]["valueCoding"]["code"]
    name = {"upward": "上转", "downward": "下转"}[direction]
    sr["extension"].append({"url": SD + "jiayi-green-channel", "valueBoolean": False})
    sr.update(status="active", intent="order", category=[_REFERRAL], code={"text": f"{name}转诊"},
              subject=patient_ref(record))
    from_org = organization(unit, record["from_code"], record.get("from_name"))
    if record.get("doctor_card"):
        doctor = practitioner(unit, record["doctor_card"], record.get("doctor"))
        key = f"{record['from_code']}/{record['doctor_card']}"
        pr = {"resourceType": "PractitionerRole", "identifier": [{"system": ROLE_ID, "value": key}], "active": True,
              "practitioner": {"reference": doctor["reference"]}, "organization": {"reference": from_org["reference"]}}
        if f"PractitionerRole|{key}" not in unit.support:
            unit.support[f"PractitionerRole|{key}"] = create_once("PractitionerRole", ROLE_ID, key, pr)
        sr["requester"] = {"reference": unit.support[f"PractitionerRole|{key}"].full_url,
                           **({"display": record["doctor"]} if record.get("doctor") else {})}
    else:
        sr["requester"] = {"reference": from_org["reference"], "display": record["doctor"]}
    to_org = organization(unit, record["to_code"], record.get("to_name"))
    sr["performer"] = [to_org]
    if record.get("based_on"):
        sr["basedOn"] = [{"reference": f"ServiceRequest?identifier={REFERRAL_NUMBER}|{record['based_on']}"}]
    edition_tag(records, sr)
    sr_entry = conditional_put("ServiceRequest", REFERRAL_NUMBER, record["referral_no"], sr)
    unit.entries.append(sr_entry)
    task = {"resourceType": "Task", "identifier": [{"system": REFERRAL_NUMBER, "value": record["referral_no"]}],
            "status": "requested", "intent": "order", "focus": {"reference": sr_entry.full_url},
            "for": sr["subject"], "authoredOn": record["date"], "requester": sr["requester"],
            "owner": {"reference": to_org["reference"]}}
    unit.entries.append(create_once("Task", REFERRAL_NUMBER, record["referral_no"], task, counted=True))
    return unit


def read_referral(sr: dict, resolve) -> dict:
    record: dict = {}
    read_fields("referral", sr, record)
    read_edition(sr, record)
    if sr.get("authoredOn"):
        record["date"] = sr["authoredOn"][:10]
    read_resident_ids(resolve((sr.get("subject") or {}).get("reference")), record)
    requester = sr.get("requester") or {}
    who = resolve(requester.get("reference"))
    if who and who.get("resourceType") == "PractitionerRole":
        doc = resolve((who.get("practitioner") or {}).get("reference"))
        org = resolve((who.get("organization") or {}).get("reference"))
        if doc:
            record["doctor_card"] = ident_value(doc, DOCTOR_CARD)
            if doc.get("name"):
                record["doctor"] = doc["name"][0].get("text")
    else:
        org = who
        if requester.get("display"):
            record["doctor"] = requester["display"]
    if org:
        record["from_code"] = ident_value(org, USCC)
        record["from_name"] = org.get("name")
    to = resolve(((sr.get("performer") or [{}])[0]).get("reference"))
    if to:
        record["to_code"] = ident_value(to, USCC)
        record["to_name"] = to.get("name")
    for b in sr.get("basedOn", []):
        up = resolve(b.get("reference"))
        if up:
            record["based_on"] = ident_value(up, REFERRAL_NUMBER)
    return {k: v for k, v in record.items() if v is not None}


