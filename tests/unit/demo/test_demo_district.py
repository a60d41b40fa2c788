"""The synthetic district (fhir_server.demo): deterministic, schema-valid, and true to the domain rules."""

import datetime as dt
from collections import Counter

import orjson

from fhir_server.core.national_ids import birth_date_from_id, is_valid_id, is_valid_uscc, sex_from_id
from fhir_server.demo import generate_district
from fhir_server.demo.catalog import HEALTH_RECORD, ID_CARD, SD, USCC

TEAM_LEAD, HOUSEHOLD_HEAD = SD + "jiayi-team-lead", SD + "jiayi-household-head"


def _references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _ext(resource, name):
    return [e for e in resource.get("extension", []) if e["url"] == SD + name]


def test_same_seed_and_size_give_identical_bytes(resources):
    again = list(generate_district(seed=7, residents=300).resources())
    assert orjson.dumps(again) == orjson.dumps(resources)
    other = list(generate_district(seed=8, residents=300).resources())
    assert orjson.dumps(other) != orjson.dumps(resources)


def test_every_resource_is_valid_r4(resources, validator_for):
    failures = []
    for r in resources:
        for error in validator_for(r["resourceType"]).iter_errors(r):
            failures.append(f"{r['resourceType']}/{r['id']}: {error.message[:200]}")
    assert not failures, "\n".join(failures[:20])


def test_ids_unique_and_references_point_backwards(resources):
    seen: set[str] = set()
    for r in resources:
        key = f"{r['resourceType']}/{r['id']}"
        assert key not in seen, key
        for target in _references(r):
            assert target in seen, f"{key} → {target} (missing or later)"
        seen.add(key)


def test_transaction_bundles_put_everything_in_order(district, resources, validator_for):
    bundles = list(district.transaction_bundles(size=97))
    assert all(len(b["entry"]) <= 97 for b in bundles)
    flat = [e["resource"] for b in bundles for e in b["entry"]]
    others = [r for r in flat if r["resourceType"] != "CarePlan"]
    assert orjson.dumps(others) == orjson.dumps([r for r in resources if r["resourceType"] != "CarePlan"])
    assert sorted(orjson.dumps(r) for r in flat) == sorted(orjson.dumps(r) for r in resources)
    plans = [b for b in bundles if b["entry"][0]["resource"]["resourceType"] == "CarePlan"]
    assert plans and all(e["resource"]["resourceType"] == "CarePlan" for b in plans for e in b["entry"])
    loaded: set[str] = set()
    for b in bundles:  # a plan's bundle comes after its resident's, never in it (see demo.care_plans)
        if b in plans:
            assert all(e["resource"]["subject"]["reference"] in loaded for e in b["entry"])
        loaded |= {e["request"]["url"] for e in b["entry"]}
    for b in bundles:
        assert b["type"] == "transaction"
        for e in b["entry"]:
            assert e["request"] == {"method": "PUT", "url": f"{e['resource']['resourceType']}/{e['resource']['id']}"}
    small = {"resourceType": "Bundle", "type": "transaction", "entry": bundles[0]["entry"][:20]}
    assert not list(validator_for("Bundle").iter_errors(small))


def test_summary_counts_every_type(district, resources):
    assert district.summary() == dict(Counter(r["resourceType"] for r in resources))
    assert district.summary()["Patient"] == 300


def test_patients_carry_valid_national_identifiers(by_type):
    records = set()
    for p in by_type["Patient"]:
        ids = {i["system"]: i["value"] for i in p["identifier"]}
        number = ids[ID_CARD]
        assert is_valid_id(number), number
        assert birth_date_from_id(number).isoformat() == p["birthDate"]
        assert sex_from_id(number) == p["gender"]
        assert len(ids[HEALTH_RECORD]) == 17 and ids[HEALTH_RECORD].isdigit()
        records.add(ids[HEALTH_RECORD])
    assert len(records) == len(by_type["Patient"])
    assert len({i["value"] for p in by_type["Patient"] for i in p["identifier"] if i["system"] == ID_CARD}) == 300


def test_key_populations_follow_age(district, by_type):
    for p in by_type["Patient"]:
        born = dt.date.fromisoformat(p["birthDate"])
        age = district.as_of.year - born.year - ((district.as_of.month, district.as_of.day) < (born.month, born.day))
        codes = {e["valueCodeableConcept"]["coding"][0]["code"] for e in _ext(p, "jiayi-key-population")}
        assert ("elderly-65" in codes) == (age >= 65)
        assert ("child-0-6" in codes) == (age <= 6)
        assert _ext(p, "jiayi-ethnicity") and _ext(p, "jiayi-household-registration")


def test_organizations_have_valid_credit_codes(by_type):
    for org in by_type["Organization"]:
        codes = [i["value"] for i in org.get("identifier", []) if i["system"] == USCC]
        is_department = org["type"][0]["coding"][0]["code"] == "dept"
        assert len(codes) == (0 if is_department else 1), org["id"]
        assert all(is_valid_uscc(code) for code in codes)
    names = " ".join(o["name"] for o in by_type["Organization"])
    for kind in ("卫生健康委员会", "社区卫生服务中心", "卫生院", "村卫生室", "人民医院"):
        assert kind in names
