"""The IG served by the API (SPEC §3, issue 5): conformance resources, supportedProfile, terminology
operations and the token modifiers :in / :not-in / :above / :below — on SQLite, PostgreSQL and
the in-memory twin."""

from __future__ import annotations

import pytest

from fhir_server.app import create_app
from fhir_server.repository.memory import MemoryRepository

JSON = {"Content-Type": "application/fhir+json"}
SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
VS = "https://jiayi.dev/fhir/ValueSet/"


@pytest.fixture(scope="module")
def memory_client():
    return create_app({"LOAD_IG": True}, repository=MemoryRepository()).test_client()


@pytest.fixture(params=["database", "memory"])
def any_client(request, client, memory_client):
    return client if request.param == "database" else memory_client


def test_structure_definitions_and_the_guide_are_served(client):
    contract = client.get("/fhir/StructureDefinition/jiayi-contract")
    assert contract.status_code == 200 and contract.json["url"] == SD + "jiayi-contract"
    assert contract.json["snapshot"]["element"]
    guide = client.get("/fhir/ImplementationGuide/jiayi").json
    assert guide["url"] == "https://jiayi.dev/fhir/ImplementationGuide/jiayi"
    found = client.get(f"/fhir/StructureDefinition?url={SD}jiayi-patient").json
    assert [e["resource"]["id"] for e in found["entry"]] == ["jiayi-patient"]
    maps = client.get("/fhir/ConceptMap?url=https://jiayi.dev/fhir/ConceptMap/gb2261-1-to-administrative-gender").json
    assert maps["total"] == 1
    assert client.get("/fhir/NamingSystem/resident-id-card").status_code == 200
    assert client.get("/fhir/SearchParameter/Contract-care-team").status_code == 200


def test_loading_again_writes_nothing(client, app):
    from fhir_server.interactions import implementation_guide

    before = client.get("/fhir/StructureDefinition/jiayi-contract").json["meta"]["versionId"]
    assert implementation_guide.install(app.extensions["jiayi.repository"]) == 0
    assert client.get("/fhir/StructureDefinition/jiayi-contract").json["meta"]["versionId"] == before


def test_capability_statement_lists_supported_profiles(client):
    rest = client.get("/fhir/metadata").json["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert by_type["Contract"]["supportedProfile"] == [SD + "jiayi-contract"]
    assert set(by_type["Encounter"]["supportedProfile"]) == {SD + "jiayi-follow-up", SD + "jiayi-contract-service"}
    assert "care-team" in {p["name"] for p in by_type["Contract"]["searchParam"]}
    assert "supportedProfile" not in by_type["Observation"]


def test_ig_search_parameters_take_effect(any_client, unique):
    team = f"CareTeam/team-{unique}"
    contract = {"resourceType": "Contract", "status": "executed",
                "extension": [{"url": SD + "jiayi-contract-care-team", "valueReference": {"reference": team}}]}
    created = any_client.post("/fhir/Contract", json=contract, headers=JSON)
    assert created.status_code == 201
    found = any_client.get(f"/fhir/Contract?care-team={team}").json
    assert [e["resource"]["id"] for e in found["entry"]] == [created.json["id"]]
    referral = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                "subject": {"reference": f"Patient/p-{unique}"},
                "extension": [{"url": SD + "jiayi-referral-direction",
                               "valueCoding": {"system": CS + "referral-direction", "code": "downward"}}]}
    any_client.post("/fhir/ServiceRequest", json=referral, headers=JSON)
    down = any_client.get(f"/fhir/ServiceRequest?direction=downward&subject=Patient/p-{unique}").json
    assert down["total"] == 1
    assert any_client.get(f"/fhir/ServiceRequest?direction=upward&subject=Patient/p-{unique}").json["total"] == 0


def test_expand_with_filter_paging_and_language(any_client):
    r = any_client.get(f"/fhir/ValueSet/$expand?url={VS}gb3304&filter=族&count=2&offset=1&displayLanguage=en")
    assert r.status_code == 200
    expansion = r.json["expansion"]
    assert expansion["total"] == 56 and expansion["offset"] == 1
    assert [(c["code"], c["display"]) for c in expansion["contains"]] == [("02", "Mongol"), ("03", "Hui")]
    zh = any_client.get("/fhir/ValueSet/gb2261-1/$expand").json["expansion"]["contains"]
    assert [c["display"] for c in zh] == ["未知的性别", "男性", "女性", "未说明的性别"]


def test_expand_errors(any_client):
    unknown = any_client.get("/fhir/ValueSet/$expand?url=http://example.org/none")
    assert unknown.status_code == 404 and unknown.json["resourceType"] == "OperationOutcome"
    missing = any_client.get("/fhir/ValueSet/$expand")
    assert missing.status_code == 400 and missing.json["issue"][0]["code"] == "required"
    bad = any_client.get(f"/fhir/ValueSet/$expand?url={VS}gb3304&count=many")
    assert bad.status_code == 400


def test_expand_a_posted_value_set(any_client, unique):
    url = f"http://example.org/fhir/ValueSet/spouse-{unique}"
    vs = {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [
        {"system": CS + "gb4761", "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}]}}
    assert any_client.post("/fhir/ValueSet", json=vs, headers=JSON).status_code == 201
    contains = any_client.get(f"/fhir/ValueSet/$expand?url={url}").json["expansion"]["contains"]
    assert [c["code"] for c in contains] == ["1", "11", "12"]


def test_lookup(any_client):
    r = any_client.get(f"/fhir/CodeSystem/$lookup?system={CS}gb4761&code=1")
    assert r.status_code == 200
    params = r.json["parameter"]
    assert {"name": "display", "valueString": "配偶"} in params
    children = [p["part"][1]["valueCode"] for p in params if p["name"] == "property"
                and p["part"][0]["valueCode"] == "child"]
    assert children == ["11", "12"]
    assert any_client.get(f"/fhir/CodeSystem/$lookup?system={CS}gb4761&code=zz").status_code == 404
    assert any_client.get("/fhir/CodeSystem/$lookup?code=1").status_code == 400


def test_validate_code(any_client):
    ok = any_client.get(f"/fhir/ValueSet/$validate-code?url={VS}married&system={CS}gb2261-2&code=22").json
    assert ok["parameter"][0] == {"name": "result", "valueBoolean": True}
    no = any_client.get(f"/fhir/ValueSet/$validate-code?url={VS}married&system={CS}gb2261-2&code=10").json
    assert no["parameter"][0]["valueBoolean"] is False and "not in the value set" in no["parameter"][1]["valueString"]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": CS + "gb2261-2"},
        {"name": "coding", "valueCoding": {"system": CS + "gb2261-2", "code": "10", "display": "已婚"}}]}
    wrong_display = any_client.post("/fhir/CodeSystem/$validate-code", json=body, headers=JSON).json
    assert wrong_display["parameter"][0]["valueBoolean"] is False
    assert any_client.get(f"/fhir/ValueSet/$validate-code?url={VS}nope&code=1").status_code == 404
    assert any_client.get(f"/fhir/ValueSet/$validate-code?url={VS}married").status_code == 400
    assert any_client.get("/fhir/CodeSystem/$validate-code?url=http://example.org/cs&code=1").status_code == 404


def test_translate(any_client):
    r = any_client.get(f"/fhir/ConceptMap/$translate?system={CS}gb2261-1&code=1").json
    assert r["parameter"][0] == {"name": "result", "valueBoolean": True}
    match = {p["name"]: p for p in r["parameter"][1]["part"]}
    assert match["concept"]["valueCoding"]["code"] == "male"
    none = any_client.get(f"/fhir/ConceptMap/$translate?system={CS}gb2261-1&code=7").json
    assert none["parameter"][0]["valueBoolean"] is False
    assert any_client.get("/fhir/ConceptMap/$translate?code=1").status_code == 400
    assert any_client.get(f"/fhir/ConceptMap/$translate?url=http://example.org/cm&system={CS}gb2261-1&code=1"
                          ).status_code == 404


@pytest.fixture()
def relatives(any_client, unique):
    """RelatedPersons of one patient with GB/T 4761 relationships 1, 11, 12, 21 and one without."""
    patient = f"Patient/rel-{unique}"
    for code in ["1", "11", "12", "21", None]:
        rp = {"resourceType": "RelatedPerson", "patient": {"reference": patient}}
        if code:
            rp["relationship"] = [{"coding": [{"system": CS + "gb4761", "code": code}]}]
        assert any_client.post("/fhir/RelatedPerson", json=rp, headers=JSON).status_code == 201
    return patient


def relationship_codes(client, patient: str, query: str):
    r = client.get(f"/fhir/RelatedPerson?patient={patient}&{query}")
    assert r.status_code == 200, r.json
    return sorted(e["resource"].get("relationship", [{"coding": [{"code": "-"}]}])[0]["coding"][0]["code"]
                  for e in r.json.get("entry", []) if e["resource"]["resourceType"] == "RelatedPerson")


def test_token_in_and_not_in(any_client, relatives, unique):
    url = f"http://example.org/fhir/ValueSet/spouse-{unique}"
    vs = {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [
        {"system": CS + "gb4761", "concept": [{"code": "11"}, {"code": "12"}]}]}}
    any_client.post("/fhir/ValueSet", json=vs, headers=JSON)
    assert relationship_codes(any_client, relatives, f"relationship:in={url}") == ["11", "12"]
    assert relationship_codes(any_client, relatives, f"relationship:not-in={url}") == ["-", "1", "21"]
    assert relationship_codes(any_client, relatives, f"relationship:in={VS}gb4761") == ["1", "11", "12", "21"]
    unknown = any_client.get(f"/fhir/RelatedPerson?relationship:in=http://example.org/none-{unique}")
    assert unknown.status_code == 400


def test_token_below_and_above(any_client, relatives):
    assert relationship_codes(any_client, relatives, f"relationship:below={CS}gb4761|1") == ["1", "11", "12"]
    assert relationship_codes(any_client, relatives, f"relationship:above={CS}gb4761|12") == ["1", "12"]
    assert any_client.get("/fhir/RelatedPerson?relationship:below=1").status_code == 400
    assert any_client.get("/fhir/RelatedPerson?relationship:below=http://example.org/cs|1").status_code == 400


def test_identifier_search_matches_across_naming_system_aliases(any_client, unique):
    from fhir_server.core.national_ids import make_id

    number = make_id("990102", __import__("datetime").date(1960, 5, 4), int(unique[:3], 16) % 500, "male")
    alias = {"resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.23.1.19.1",
                                                        "value": number}], "name": [{"text": f"别名{unique}"}]}
    created = any_client.post("/fhir/Patient", json=alias, headers=JSON).json["id"]
    for system in ["urn:oid:2.16.156.10011.1.3", "urn:oid:2.16.840.1.113883.2.23.1.19.1"]:
        found = any_client.get(f"/fhir/Patient?identifier={system}|{number}").json
        assert created in [e["resource"]["id"] for e in found.get("entry", [])], system
    by_alias_param = any_client.get(f"/fhir/Patient?id-number={number}").json
    assert created in [e["resource"]["id"] for e in by_alias_param.get("entry", [])]
    assert any_client.get(f"/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.2|{number}").json["total"] == 0


def test_malformed_inline_resources_are_4xx_not_500(any_client):
    bad_map = {"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": "http://example.org/cs"}, {"name": "code", "valueCode": "1"},
        {"name": "conceptMap", "resource": {"resourceType": "ConceptMap", "status": "active",
                                            "group": [{"source": "http://example.org/cs", "element": ["bad"]}]}}]}
    assert any_client.post("/fhir/ConceptMap/$translate", json=bad_map, headers=JSON).status_code < 500
    bad_regex = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": {
        "resourceType": "ValueSet", "status": "active", "compose": {"include": [
            {"system": CS + "gb3304", "filter": [{"property": "concept", "op": "regex", "value": "(("}]}]}}}]}
    assert any_client.post("/fhir/ValueSet/$expand", json=bad_regex, headers=JSON).status_code == 422
    not_a_value_set = {"resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": {
        "resourceType": "ValueSet", "status": "active", "compose": {"include": "oops"}}}]}
    assert any_client.post("/fhir/ValueSet/$expand", json=not_a_value_set, headers=JSON).status_code == 400
