"""``$validate`` (type and instance level, profile, mode) and validation on write of resources
claiming a Jiayi profile, through the HTTP API on SQLite and PostgreSQL (SPEC §3 "Validation").

The app loads the small test profiles of tests/validation_profiles.py as extra profiles
(``PROFILES_DIR``); their URLs are under the Jiayi canonical base, so they are enforced on write.
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from unit.validation.test_profiles import CONTRACT, ORGANIZATION, PATIENT
from validation_profiles import RESOURCES, SD

from fhir_server.app import create_app


@pytest.fixture(scope="module")
def profiles_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("profiles")
    for resource in RESOURCES:
        (directory / f"{resource['resourceType']}-{resource['id']}.json").write_text(
            json.dumps(resource, ensure_ascii=False), encoding="utf-8")
    return str(directory)


@pytest.fixture(scope="module")
def vclient(database_url, profiles_dir):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "PROFILES_DIR": profiles_dir,
                      "BASE_URL": "http://testserver/fhir"})
    yield app.test_client()
    app.extensions["jiayi.database"].dispose()


def _patient(**changes) -> dict:
    resource = {k: v for k, v in copy.deepcopy(PATIENT).items() if k != "id"}
    resource["name"] = [{"text": "张三", "family": uuid.uuid4().hex[:10]}]
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not ...}


def _issues(response) -> list[tuple[str, str, tuple]]:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return [(i["severity"], i["code"], tuple(i.get("expression", ()))) for i in body["issue"]]


def test_type_level_validate_reports_profile_issues(vclient):
    response = vclient.post("/fhir/Patient/$validate", json=_patient(gender=..., active=False))
    assert response.status_code == 200
    issues = _issues(response)
    assert ("error", "required", ("Patient.gender",)) in issues
    assert ("error", "value", ("Patient.active",)) in issues


def test_validate_with_profile_parameter_in_parameters(vclient):
    resource = {k: v for k, v in _patient(gender=...).items() if k != "meta"}
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": resource}, {"name": "profile", "valueUri": SD + "test-patient"}]}
    issues = _issues(vclient.post("/fhir/Patient/$validate", json=body))
    assert ("error", "required", ("Patient.gender",)) in issues
    plain = _issues(vclient.post("/fhir/Patient/$validate", json=resource))
    assert not [i for i in plain if i[0] == "error"]


def test_unknown_profile_is_a_clear_4xx(vclient):
    url = SD + "jiayi-no-such-profile"
    response = vclient.post(f"/fhir/Patient/$validate?profile={url}", json=_patient())
    assert response.status_code == 400
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome" and url in outcome["issue"][0]["diagnostics"]


def test_instance_level_and_modes(vclient):
    created = vclient.post("/fhir/Organization", json={"resourceType": "Organization", "name": "城关卫生院"})
    oid = created.get_json()["id"]
    instance = _issues(vclient.post(f"/fhir/Organization/{oid}/$validate?profile={SD}test-organization"))
    assert ("error", "required", ("Organization.type",)) in instance
    update = {"resourceType": "Organization", "name": "城关卫生院"}
    assert ("error", "required", ("Organization.id",)) in _issues(
        vclient.post(f"/fhir/Organization/{oid}/$validate?mode=update", json=update))
    assert ("error", "invalid", ("Organization.id",)) in _issues(
        vclient.post(f"/fhir/Organization/{oid}/$validate?mode=update", json={**update, "id": "other"}))
    ok = _issues(vclient.post(f"/fhir/Organization/{oid}/$validate?mode=update", json={**update, "id": oid}))
    assert not [i for i in ok if i[0] == "error"]
    assert _issues(vclient.post(f"/fhir/Organization/{oid}/$validate?mode=delete"))[0][0] == "information"
    assert vclient.delete(f"/fhir/Organization/{oid}").status_code in (200, 204)
    assert _issues(vclient.post(f"/fhir/Organization/{oid}/$validate?mode=delete"))[0][1] == "deleted"
    missing = _issues(vclient.post("/fhir/Organization/never-there/$validate?mode=delete"))
    assert missing[0][:2] == ("error", "not-found")
    assert vclient.post("/fhir/Organization/$validate?mode=replace", json=update).status_code == 400


def test_write_of_a_broken_jiayi_resource_is_422_and_nothing_is_written(vclient):
    family = uuid.uuid4().hex[:10]
    broken = _patient(gender=..., communication=[{"language": {"text": "中文"}}])
    broken["name"][0]["family"] = family
    response = vclient.post("/fhir/Patient", json=broken)
    assert response.status_code == 422
    issues = _issues(response)
    assert ("error", "required", ("Patient.gender",)) in issues
    assert ("error", "structure", ("Patient.communication",)) in issues
    assert vclient.get(f"/fhir/Patient?family={family}").get_json().get("total", 0) == 0


def test_writes_of_good_and_broken_contract(vclient):
    good = copy.deepcopy(CONTRACT)
    created = vclient.post("/fhir/Contract", json=good)
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    first = good["extension"][0]
    broken = {**good, "id": cid, "extension": [{**first, "extension": first["extension"][:1]}]}
    response = vclient.put(f"/fhir/Contract/{cid}", json=broken)
    assert response.status_code == 422
    assert ("error", "required", ("Contract.extension[0].extension",)) in _issues(response)
    assert vclient.get(f"/fhir/Contract/{cid}").get_json()["meta"]["versionId"] == "1"
    patch = [{"op": "replace", "path": "/subject/0/reference", "value": "Organization/o1"}]
    patched = vclient.patch(f"/fhir/Contract/{cid}", data=json.dumps(patch),
                            headers={"Content-Type": "application/json-patch+json"})
    assert patched.status_code == 422
    assert ("error", "structure", ("Contract.subject[0]",)) in _issues(patched)


def test_transaction_with_a_broken_jiayi_entry_writes_nothing(vclient):
    family = uuid.uuid4().hex[:10]
    good = _patient()
    good["name"][0]["family"] = family
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": good, "request": {"method": "POST", "url": "Patient"}},
        {"resource": {**copy.deepcopy(CONTRACT), "status": None}, "request": {"method": "POST", "url": "Contract"}},
        {"resource": {**_patient(active=False)}, "request": {"method": "POST", "url": "Patient"}},
    ]}
    del bundle["entry"][1]["resource"]["status"]
    response = vclient.post("/fhir", json=bundle)
    assert response.status_code == 422, response.get_json()
    assert vclient.get(f"/fhir/Patient?family={family}").get_json().get("total", 0) == 0
    batch = {**bundle, "type": "batch"}
    results = vclient.post("/fhir", json=batch).get_json()
    statuses = [e["response"]["status"][:3] for e in results["entry"]]
    assert statuses == ["201", "422", "422"]


def test_non_jiayi_claims_are_only_checked_in_strict_mode(database_url, profiles_dir):
    claim = {"resourceType": "Organization", "name": "某医院",
             "meta": {"profile": ["http://example.org/fhir/StructureDefinition/other-org"]}}
    lenient = create_app({"DATABASE_URL": database_url, "TESTING": True, "PROFILES_DIR": profiles_dir})
    assert lenient.test_client().post("/fhir/Organization", json=claim).status_code == 201
    lenient.extensions["jiayi.database"].dispose()
    strict = create_app({"DATABASE_URL": database_url, "TESTING": True, "PROFILES_DIR": profiles_dir,
                         "VALIDATION": "strict"})
    client = strict.test_client()
    assert client.post("/fhir/Organization", json=claim).status_code == 422
    claimed = {**claim, "meta": {"profile": [SD + "test-organization"]}}
    assert client.post("/fhir/Organization", json={k: v for k, v in claimed.items()}).status_code == 422
    ok = {**copy.deepcopy(ORGANIZATION), "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/Organization"]}}
    del ok["id"]
    assert client.post("/fhir/Organization", json=ok).status_code == 201
    strict.extensions["jiayi.database"].dispose()


def _ig_contract() -> dict:
    from fhir_server.validation.ig import examples

    found = [r for r in examples() if SD + "jiayi-contract" in (r.get("meta") or {}).get("profile", [])]
    if not found:
        pytest.skip("no jiayi-contract example in profiles/")
    contract = copy.deepcopy(found[0])
    contract.pop("id", None)
    contract["identifier"] = [{"system": "https://jiayi.dev/fhir/sid/contract-number", "value": uuid.uuid4().hex}]
    return contract


def _load_contract_world(vclient) -> None:
    """What the family-doctor rules read for the example contract: its team, package, household
    and residents (the IG's other examples)."""
    from fhir_server.validation.ig import examples

    for resource in examples():
        if resource["resourceType"] in ("Organization", "Patient", "Group", "CareTeam", "PlanDefinition"):
            response = vclient.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
            assert response.status_code in (200, 201), response.get_json()


def test_jiayi_contract_good_is_accepted_and_broken_is_422_with_nothing_written(vclient):
    _load_contract_world(vclient)
    good = _ig_contract()
    good["status"] = "offered"  # applied for: the rules and the profile apply, the example's own term may be in force
    created = vclient.post("/fhir/Contract", json=good)
    assert created.status_code == 201, created.get_json()
    broken = _ig_contract()
    number = broken["identifier"][0]["value"]
    del broken["subject"]
    broken["status"] = "terminated"
    broken.pop("expirationType", None)
    response = vclient.post("/fhir/Contract", json=broken)
    assert response.status_code == 422
    issues = _issues(response)
    assert ("error", "required", ("Contract.subject",)) in issues
    assert ("error", "invariant", ("Contract",)) in issues  # jiayi-ctr-2: a terminated contract says why
    found = vclient.get(f"/fhir/Contract?identifier=https://jiayi.dev/fhir/sid/contract-number|{number}")
    assert found.get_json().get("total", 0) == 0
    validated = _issues(vclient.post("/fhir/Contract/$validate", json=broken))
    assert ("error", "required", ("Contract.subject",)) in validated


@pytest.mark.parametrize("nested", [7, "x", {"url": "level"}])
def test_an_extension_whose_extension_is_not_an_array_is_an_issue_not_a_crash(vclient, nested):
    """A wrong JSON type inside an extension is the schema's error; the extension walks skip it."""
    body = {"resourceType": "Patient", "name": [{"family": "王", "extension": nested}],
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "extension": nested}]}
    response = vclient.post("/fhir/Patient/$validate", json=body)
    assert response.status_code == 200
    found = {(code, where) for severity, code, where in _issues(response) if severity == "error"}
    assert ("structure", ("Patient.extension[0].extension",)) in found
    assert ("structure", ("Patient.name[0].extension",)) in found
