"""Domain rules the demo district must respect (SPEC §1, §3, §4)."""

import datetime as dt
from collections import Counter

from fhir_server.demo import generate_district
from fhir_server.demo.catalog import CS, PACKAGES, SD

PRICE = {f"PlanDefinition/{p[0]}": p[3] for p in PACKAGES}


def _flag(element, name):
    return any(e["url"] == SD + name and e.get("valueBoolean") for e in element.get("extension", []))


def test_at_most_one_executed_contract_per_resident(by_type):
    signed = Counter(s["reference"] for c in by_type["Contract"] if c["status"] == "executed" for s in c["subject"])
    assert signed and max(signed.values()) == 1


def test_contract_shares_and_states_are_realistic():
    district = generate_district(seed=3, residents=3000)
    contracts = [r for r in district.resources() if r["resourceType"] == "Contract"]
    executed = {s["reference"] for c in contracts if c["status"] == "executed" for s in c["subject"]}
    assert 0.55 <= len(executed) / 3000 <= 0.72
    statuses = Counter(c["status"] for c in contracts)
    assert statuses["offered"] and statuses["terminated"]
    soon = [c for c in contracts if c["status"] == "executed"
            and dt.date.fromisoformat(c["applies"]["end"]) <= district.as_of + dt.timedelta(days=30)]
    assert soon


def test_fee_split_adds_up_to_package_price(by_type):
    for c in by_type["Contract"]:
        assert c["type"]["coding"][0] == {"system": CS + "contract-type", "code": "family-doctor",
                                          "display": "家庭医生签约服务"}
        for term in c["term"]:
            covered = term["offer"]["party"][0]["reference"]
            items = term["asset"][0]["valuedItem"]
            total = sum(i["net"]["value"] for i in items)
            assert total == PRICE[term["topicReference"]["reference"]] * len(covered), c["id"]
            assert all(i["net"]["currency"] == "CNY" and i["responsible"] for i in items)


def test_contract_terms_and_signers(by_type):
    for c in by_type["Contract"]:
        start, end = (dt.date.fromisoformat(c["applies"][k]) for k in ("start", "end"))
        assert start < end <= start.replace(year=start.year + 3)
        kinds = [s["type"]["code"] for s in c["signer"]]
        assert kinds[0] in ("PAT", "GUARD") and (c["status"] == "offered" or "HPROV" in kinds)
        assert (c["status"] == "terminated") == ("expirationType" in c)
        assert len([e for e in c["extension"] if e["url"] == SD + "jiayi-combination-hospital"]) == 2


def test_household_contracts_cover_members(by_type):
    groups = {f"Group/{g['id']}": {m["entity"]["reference"] for m in g["member"]} for g in by_type["Group"]}
    household = [c for c in by_type["Contract"]
                 if any(e["url"] == SD + "jiayi-contract-household" for e in c["extension"])]
    assert household
    for c in household:
        group = next(e["valueReference"]["reference"] for e in c["extension"]
                     if e["url"] == SD + "jiayi-contract-household")
        assert {s["reference"] for s in c["subject"]} == groups[group]  # every member of the household


def test_each_household_has_exactly_one_head(by_type):
    for g in by_type["Group"]:
        assert g["type"] == "person" and g["actual"] is True
        assert sum(_flag(m, "jiayi-household-head") for m in g["member"]) == 1
        assert len(g["member"]) == g["quantity"] and 2 <= g["quantity"] <= 5
    assert sum(g["quantity"] for g in by_type["Group"]) == 300


def test_each_team_has_one_lead_family_doctor(by_type):
    for team in by_type["CareTeam"]:
        leads = [p for p in team["participant"] if _flag(p, "jiayi-team-lead")]
        assert len(leads) == 1
        assert leads[0]["role"][0]["coding"][0]["code"] == "family-doctor"
        assert team["category"][0]["coding"][0]["code"] == "family-doctor-team"


def test_follow_ups_and_observations(by_type):
    encounters = by_type["Encounter"]
    assert encounters
    per_patient = Counter(e["subject"]["reference"] for e in encounters)
    assert max(per_patient.values()) <= 4
    panels = [o for o in by_type["Observation"] if o["code"]["coding"][0]["code"] == "85354-9"]
    assert len(panels) == len(encounters)
    for o in panels:
        codes = [(c["code"]["coding"][0]["code"], c["valueQuantity"]["code"]) for c in o["component"]]
        assert codes == [("8480-6", "mm[Hg]"), ("8462-4", "mm[Hg]")]


def test_referrals_and_tasks(by_type):
    requests = {f"ServiceRequest/{s['id']}": s for s in by_type["ServiceRequest"]}
    assert requests
    for task in by_type["Task"]:
        sr = requests[task["focus"]["reference"]]
        assert task["owner"]["reference"] == sr["performer"][0]["reference"]
    for sr in requests.values():
        direction = next(e["valueCoding"]["code"] for e in sr["extension"]
                         if e["url"] == SD + "jiayi-referral-direction")
        if direction == "downward":
            assert sr["basedOn"][0]["reference"] in requests


def test_slots_reserved_for_family_doctors(by_type):
    reserved = [s for s in by_type["Slot"] if _flag(s, "jiayi-reserved-for-family-doctors")]
    assert 0.1 <= len(reserved) / len(by_type["Slot"]) <= 0.35
    for s in reserved:
        opens = next(e["valueDateTime"] for e in s["extension"] if e["url"] == SD + "jiayi-family-doctor-open-time")
        assert opens < s["start"]


def test_tiny_and_odd_sizes():
    for n in (1, 2, 3, 7):
        district = generate_district(residents=n)
        assert district.summary()["Patient"] == n


def test_package_catalogue_splits_add_up():
    for pid, _title, _tier, price, split, items in PACKAGES:
        assert sum(split.values()) == price, pid
        assert items and all(n >= 1 for n in items.values())
