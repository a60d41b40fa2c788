"""个人基本信息表 ↔ Patient (in a household Group), its history sections as Observations."""

from __future__ import annotations

from .. import tables
from . import observations
from .common import (
    HOUSEHOLD,
    ID_CARD,
    RELATIONSHIP,
    RESIDENT_FORM,
    SD,
    USCC,
    Unit,
    apply_fields,
    conditional_put,
    edition_tag,
    organization,
    read_edition,
    read_fields,
    stamp,
)


def resident(rows: list[int], records: list[dict]) -> Unit:
    record = records[0]
    unit = Unit("resident", rows, record["id_number"])
    res: dict = {"resourceType": "Patient", "active": True}
    apply_fields("resident", record, res)
    for ident in res.get("identifier", []):
        ident["use"] = "official" if ident["system"] == ID_CARD else "usual"
    name = res["name"][0]
    name.update(family=name["text"][:1], given=[name["text"][1:]] if name["text"][1:] else [])
    for t in res.get("telecom", []):
        t["use"] = "mobile"
    if "address" in res:
        res["address"][0].update(use="home", country="CN")
    if "contact" in res:
        for t in res["contact"][0].get("telecom", []):
            t["use"] = "mobile"
    if record.get("institution_code"):
        res["managingOrganization"] = organization(unit, record["institution_code"], record.get("institution"))
    edition_tag(records, res)
    patient = conditional_put("Patient", ID_CARD, record["id_number"], res)
    unit.entries.append(patient)
    # the form's history sections (过敏史, 暴露史, 既往史, 家族史, 残疾, 生活环境) as answered
    unit.entries += observations.build("resident", record, RESIDENT_FORM, record["id_number"],
                                       {"reference": patient.full_url}, None, None, observations.SOCIAL_HISTORY)
    if record.get("household_no"):
        unit.extra["household"] = (record["household_no"], record["id_number"], record.get("relation"),
                                   record.get("name"))
    return unit


def household(rows: list[int], number: str, members: list[tuple[str, str | None, str | None]]) -> Unit:
    """The household Group: every member by 身份证号; 02 户主 is the head."""
    unit = Unit("household", rows, number)
    cl = tables.code_lists()["gb4761"]
    member_list = []
    for id_number, relation, name in members:
        m: dict = {"entity": {"reference": f"Patient?identifier={ID_CARD}|{id_number}",
                              **({"display": name} if name else {})}}
        ext = []
        if relation == "02":
            ext.append({"url": SD + "jiayi-household-head", "valueBoolean": True})
        if relation:
            ext.append({"url": RELATIONSHIP, "valueCodeableConcept": {
                "coding": [{"system": cl.system, "code": relation, "display": cl.codes[relation].display}],
                "text": cl.codes[relation].display}})
        if ext:
            m = {"extension": ext, **m}
        member_list.append(m)
    head = next((n for i, r, n in members if r == "02"), None)
    res = {"resourceType": "Group", "identifier": [{"system": HOUSEHOLD, "value": number}], "active": True,
           "type": "person", "actual": True, "name": f"{head}户" if head else f"家庭{number}",
           "quantity": len(members), "member": member_list}
    unit.entries.append(conditional_put("Group", HOUSEHOLD, number, res))
    return stamp(unit)


def read_resident(patient: dict, org: dict | None, group_member: tuple[str | None, str | None] | None,
                  history: list[dict] | tuple = ()) -> dict:
    """The form's record of a Patient, its Organization, household membership and the
    Observations of its history sections."""
    record: dict = {}
    read_fields("resident", patient, record)
    observations.read("resident", list(history), record)
    read_edition(patient, record)
    if org:
        code = next((i["value"] for i in org.get("identifier", []) if i.get("system") == USCC), None)
        if code:
            record["institution_code"] = code
        if org.get("name") and code:
            record["institution"] = org["name"]
    if group_member:
        record["household_no"] = group_member[0]
        if group_member[1]:
            record["relation"] = group_member[1]
    return record


