"""家庭医生签约协议 ↔ jiayi-contract Contract (one row per package line)."""

from __future__ import annotations

from .common import (
    CONTRACT_NUMBER,
    CS,
    DOCTOR_CARD,
    HOUSEHOLD,
    ID_CARD,
    SD,
    TEAM_CODE,
    USCC,
    Unit,
    apply_fields,
    conditional_put,
    edition_tag,
    ident_value,
    patient_of,
    read_edition,
    read_fields,
)

PAYERS = {"insurance": ("medical-insurance", "医保基金"),
          "public_health": ("public-health-fund", "基本公共卫生服务经费"),
          "finance": ("finance", "财政补助"), "self_pay": ("self-pay", "个人自付")}


def contract(rows: list[int], records: list[dict]) -> Unit:
    """One Contract from its rows: one row per (resident, package); a household contract has a row
    for every member and package.  The first row's resident signs; the fee columns are per person."""
    first = records[0]
    unit = Unit("contract", rows, first["contract_no"])
    res: dict = {"resourceType": "Contract"}
    apply_fields("contract", first, res)
    extension = res.pop("extension", [])
    people: dict[str, dict] = {}
    for record in records:
        people.setdefault(record["id_number"], patient_of(record))
    signer = people[first["id_number"]]
    ext = []
    if first.get("household_no"):
        ext.append({"url": SD + "jiayi-contract-household",
                    "valueReference": {"reference": f"Group?identifier={HOUSEHOLD}|{first['household_no']}"}})
    ext.append({"url": SD + "jiayi-contract-care-team",
                "valueReference": {"reference": f"CareTeam?identifier={TEAM_CODE}|{first['team_code']}"}})
    ext.append({"url": SD + "jiayi-auto-renew", "valueBoolean": first.get("auto_renew", "1") == "1"})
    ext += extension
    res["extension"] = ext
    res["issued"] = f"{first['signed']}T00:00:00+08:00"
    res["subject"] = list(people.values())
    res["authority"] = [{"reference": f"Organization?identifier={USCC}|{first['institution_code']}"}]
    res["type"] = {"coding": [{"system": CS + "contract-type", "code": "family-doctor", "display": "家庭医生签约服务"}],
                   "text": "家庭医生签约服务"}
    when = f"{first['signed']}T00:00:00+08:00"
    signers = [{"type": {"system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes", "code": "PAT"},
                "party": signer,
                "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.7",
                                         "display": "Consent Signature"}], "when": when, "who": signer}]}]
    if first.get("doctor_card"):
        doctor = {"reference": f"Practitioner?identifier={DOCTOR_CARD}|{first['doctor_card']}",
                  **({"display": first["doctor"]} if first.get("doctor") else {})}
        signers.append({"type": {"system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                                 "code": "HPROV"}, "party": doctor,
                        "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013",
                                                 "code": "1.2.840.10065.1.12.1.1", "display": "Author's Signature"}],
                                       "when": when, "who": doctor}]})
    res["signer"] = signers
    packages: dict[str, list[dict]] = {}
    for record in records:
        packages.setdefault(record["package"], []).append(record)
    terms = []
    for package, lines in packages.items():
        covered = [people[line["id_number"]] for line in lines]
        items = []
        for key, (payer, name) in PAYERS.items():
            amounts = [line[key] for line in lines if line.get(key) is not None]
            if not amounts:
                continue
            who = signer if payer == "self-pay" else {
                "type": "Organization", "identifier": {"system": CS + "payer-type", "value": payer}, "display": name}
            total = sum(amounts)
            items.append({"quantity": {"value": len(amounts)},
                          "unitPrice": {"value": amounts[0] if len(set(amounts)) == 1 else total / len(amounts),
                                        "currency": "CNY"},
                          "net": {"value": total, "currency": "CNY"}, "responsible": who})
        term = {"topicReference": {"reference": f"PlanDefinition/{package}"},
                "offer": {"party": [{"reference": covered, "role": {"text": "服务对象"}}], "text": package}}
        if items:
            term["asset"] = [{"valuedItem": items}]
        terms.append(term)
    res["term"] = terms
    edition_tag(records, res)
    unit.entries.append(conditional_put("Contract", CONTRACT_NUMBER, first["contract_no"], res))
    return unit


def read_contract(res: dict, resolve) -> list[dict]:
    base: dict = {}
    read_fields("contract", res, base)
    read_edition(res, base)
    base["signed"] = (res.get("issued") or "")[:10]
    org = resolve((res.get("authority") or [{}])[0].get("reference"))
    if org:
        base["institution_code"] = ident_value(org, USCC)
    for e in res.get("extension", []):
        url = e.get("url")
        if url == SD + "jiayi-contract-care-team":
            team = resolve(e["valueReference"].get("reference"))
            if team:
                base["team_code"] = ident_value(team, TEAM_CODE)
        elif url == SD + "jiayi-contract-household":
            group = resolve(e["valueReference"].get("reference"))
            if group:
                base["household_no"] = ident_value(group, HOUSEHOLD)
        elif url == SD + "jiayi-auto-renew":
            base["auto_renew"] = "1" if e.get("valueBoolean") else "0"
    for s in res.get("signer", []):
        if (s.get("type") or {}).get("code") == "HPROV":
            doc = resolve((s.get("party") or {}).get("reference"))
            if doc:
                base["doctor_card"] = ident_value(doc, DOCTOR_CARD)
                if doc.get("name"):
                    base["doctor"] = doc["name"][0].get("text")
            elif (s.get("party") or {}).get("display"):
                base["doctor"] = s["party"]["display"]
    signer_ref = next(((s.get("party") or {}).get("reference") for s in res.get("signer", [])
                       if (s.get("type") or {}).get("code") in ("PAT", "GUARD")), None)

    def person(ref: str | None) -> dict:
        patient = resolve(ref) or {}
        out = {"id_number": ident_value(patient, ID_CARD)}
        if patient.get("name"):
            out["name"] = patient["name"][0].get("text")
        return out

    rows: list[tuple[str, dict]] = []
    for term in res.get("term", []):
        package = ((term.get("topicReference") or {}).get("reference", "")).split("/", 1)[-1]
        amounts: dict[str, object] = {}
        for asset in term.get("asset", []):
            for item in asset.get("valuedItem", []):
                who = item.get("responsible") or {}
                payer = (who.get("identifier") or {}).get("value") or "self-pay"
                key = next(k for k, (p, _n) in PAYERS.items() if p == payer)
                amounts[key] = (item.get("unitPrice") or item["net"])["value"]
        covered = [ref.get("reference") for party in (term.get("offer") or {}).get("party", [])
                   for ref in party.get("reference", [])]
        for ref in covered or [signer_ref]:
            rows.append((ref, {**base, **person(ref), "package": package, **amounts}))
    # the signer's rows first (the importer takes the first row's resident as the signer)
    rows.sort(key=lambda x: 0 if "/".join((x[0] or "").split("/")[-2:]) ==
              "/".join((signer_ref or "").split("/")[-2:]) else 1)
    return [{k: v for k, v in record.items() if v is not None} for _ref, record in rows]


