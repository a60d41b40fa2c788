"""家庭医生团队 ↔ CareTeam with its members (one row per member)."""

from __future__ import annotations

from .. import paths, tables
from .common import (
    CS,
    DOCTOR_CARD,
    FORM_CODE,
    ROLE_ID,
    SD,
    TEAM_CODE,
    USCC,
    Unit,
    apply_fields,
    conditional_put,
    create_once,
    edition_tag,
    ident_value,
    organization,
    practitioner,
    read_edition,
    read_fields,
)


def team(rows: list[int], records: list[dict]) -> Unit:
    first = records[0]
    unit = Unit("team", rows, first["team_code"])
    res: dict = {"resourceType": "CareTeam", "status": "active"}
    apply_fields("team", first, res)
    if "capacity" not in first:
        paths.put(res, "extension[url=" + SD + "jiayi-team-capacity].valuePositiveInt", 1500)
    res["category"] = [{"coding": [{"system": CS + "care-team-category", "code": "family-doctor-team",
                                    "display": "家庭医生团队"}], "text": "家庭医生团队"}]
    org = organization(unit, first["institution_code"], first.get("institution"))
    res["managingOrganization"] = [org]
    roles = tables.code_lists()["team-role"]
    participants = []
    for record in records:
        extra = {}
        if record.get("member_sex"):
            target = tables.translate(tables.code_lists()["gb2261-1"].system, record["member_sex"]) or {}
            extra["gender"] = target.get("code", "unknown")
            extra["_gender"] = {"extension": [{"url": FORM_CODE, "valueCoding": {
                "system": tables.code_lists()["gb2261-1"].system, "code": record["member_sex"]}}]}
        if record.get("member_phone"):
            extra["telecom"] = [{"system": "phone", "value": record["member_phone"], "use": "work"}]
        member = practitioner(unit, record["member_card"], record["member_name"], extra)
        role = roles.codes[record["role"]]
        role_cc = {"coding": [{"system": roles.system, "code": role.code, "display": role.display}],
                   "text": role.display}
        p = {"role": [role_cc], "member": member, "onBehalfOf": {"reference": org["reference"]}}
        if record.get("lead") == "1":
            p = {"extension": [{"url": SD + "jiayi-team-lead", "valueBoolean": True}], **p}
        participants.append(p)
        key = f"{first['institution_code']}/{record['member_card']}"
        pr = {"resourceType": "PractitionerRole", "identifier": [{"system": ROLE_ID, "value": key}], "active": True,
              "practitioner": {"reference": member["reference"]}, "organization": {"reference": org["reference"]},
              "code": [role_cc]}
        unit.support[f"PractitionerRole|{key}"] = create_once("PractitionerRole", ROLE_ID, key, pr)
    res["participant"] = participants
    edition_tag(records, res)
    unit.entries.append(conditional_put("CareTeam", TEAM_CODE, first["team_code"], res))
    return unit


def read_team(res: dict, resolve) -> list[dict]:
    base: dict = {}
    read_fields("team", res, base)
    read_edition(res, base)
    org = resolve((res.get("managingOrganization") or [{}])[0].get("reference"))
    if org:
        base["institution_code"] = ident_value(org, USCC)
        base["institution"] = org.get("name")
    roles = tables.code_lists()["team-role"]
    out = []
    for p in res.get("participant", []):
        record = dict(base)
        doc = resolve((p.get("member") or {}).get("reference"))
        if doc:
            record["member_card"] = ident_value(doc, DOCTOR_CARD)
            if doc.get("name"):
                record["member_name"] = doc["name"][0].get("text")
            ext = (doc.get("_gender") or {}).get("extension", [])
            sex = next((e["valueCoding"]["code"] for e in ext if e.get("url") == FORM_CODE), None)
            if sex:
                record["member_sex"] = sex
            phone = next((t["value"] for t in doc.get("telecom", []) if t.get("system") == "phone"), None)
            if phone:
                record["member_phone"] = phone
        code = next((c["code"] for r in p.get("role", []) for c in r.get("coding", [])
                     if c.get("system") == roles.system), None)
        if code:
            record["role"] = code
        lead = any(e.get("url") == SD + "jiayi-team-lead" and e.get("valueBoolean") for e in p.get("extension", []))
        record["lead"] = "1" if lead else "0"
        out.append({k: v for k, v in record.items() if v is not None})
    return out


