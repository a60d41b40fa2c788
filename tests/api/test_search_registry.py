"""The search parameters in force belong to the app's store (``uow.search_params()``), never to
the process: two apps in one process do not see each other's custom SearchParameters, and
the in-memory repository searches by the SearchParameters it stored itself."""

from __future__ import annotations

import uuid

import pytest
from helpers import fresh_database_url

from fhir_server.app import create_app
from fhir_server.repository.memory import MemoryRepository

STRICT = {"Prefer": "handling=strict"}


def _nick_parameter(code: str) -> dict:
    return {"resourceType": "SearchParameter", "url": f"http://jiayi.test/SearchParameter/{code}",
            "name": code, "status": "active", "description": "A resident's nickname", "code": code,
            "base": ["Patient"], "type": "string",
            "expression": "Patient.extension.where(url='http://jiayi.test/nick').value"}


def _nicknamed(nick: str) -> dict:
    return {"resourceType": "Patient", "name": [{"text": "王五"}],
            "extension": [{"url": "http://jiayi.test/nick", "valueString": nick}]}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_apps(request, tmp_path_factory):
    apps = [create_app({"DATABASE_URL": fresh_database_url(request.param, request, tmp_path_factory),
                        "TESTING": True, "BASE_URL": "http://testserver/fhir"}) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["jiayi.database"].dispose()


def _teach_nick(client, code: str) -> str:
    assert client.post("/fhir/SearchParameter", json=_nick_parameter(code)).status_code == 201
    created = client.post("/fhir/Patient", json=_nicknamed("小五"))
    assert created.status_code == 201, created.json
    return created.json["id"]


def test_two_apps_in_one_process_keep_their_own_search_parameters(two_apps):
    a, b = (app.test_client() for app in two_apps)
    code = f"nick{uuid.uuid4().hex[:6]}"
    patient_id = _teach_nick(a, code)
    found = a.get(f"/fhir/Patient?{code}=小五", headers=STRICT)
    assert found.status_code == 200 and [e["resource"]["id"] for e in found.json["entry"]] == [patient_id]
    refused = b.get(f"/fhir/Patient?{code}=小五", headers=STRICT)  # B never stored the parameter
    assert refused.status_code == 400 and code in refused.json["issue"][0]["diagnostics"]
    again = a.get(f"/fhir/Patient?{code}=小五", headers=STRICT)  # B's refusal changed nothing for A
    assert again.status_code == 200 and again.json["total"] == 1


def test_conditional_criteria_use_the_apps_own_parameters(two_apps):
    a, b = (app.test_client() for app in two_apps)
    code = f"nick{uuid.uuid4().hex[:6]}"
    patient_id = _teach_nick(a, code)
    assert a.delete(f"/fhir/Patient?{code}=小五").status_code in (200, 204)
    assert a.get(f"/fhir/Patient/{patient_id}").status_code == 410
    assert b.delete(f"/fhir/Patient?{code}=小五").status_code == 400  # unknown to B: never "matches all"


def test_conditional_update_and_create_by_a_custom_parameter(two_apps):
    """The conditional write's lock key is built from the same parameters as its search."""
    a, _ = (app.test_client() for app in two_apps)
    code = f"nick{uuid.uuid4().hex[:6]}"
    patient_id = _teach_nick(a, code)
    updated = a.put(f"/fhir/Patient?{code}=小五", json={**_nicknamed("小五"), "gender": "male"})
    assert updated.status_code == 200, updated.json
    assert updated.json["id"] == patient_id and updated.json["meta"]["versionId"] == "2"
    again = a.post("/fhir/Patient", json=_nicknamed("小五"), headers={"If-None-Exist": f"{code}=小五"})
    assert again.status_code == 200 and again.json["id"] == patient_id
    created = a.put(f"/fhir/Patient?{code}=小六", json=_nicknamed("小六"))
    assert created.status_code == 201, created.json


def test_in_memory_repository_searches_by_its_own_search_parameters():
    memory = create_app({"TESTING": True, "BASE_URL": "http://testserver/fhir"},
                        repository=MemoryRepository()).test_client()
    other = create_app({"TESTING": True, "BASE_URL": "http://testserver/fhir"},
                       repository=MemoryRepository()).test_client()
    patient_id = _teach_nick(memory, "nick")
    found = memory.get("/fhir/Patient?nick=小五", headers=STRICT)
    assert found.status_code == 200 and [e["resource"]["id"] for e in found.json["entry"]] == [patient_id]
    assert other.get("/fhir/Patient?nick=小五", headers=STRICT).status_code == 400


def test_a_transaction_searches_by_the_search_parameter_it_just_stored(two_apps):
    a, _ = (app.test_client() for app in two_apps)
    code = f"nick{uuid.uuid4().hex[:6]}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": _nick_parameter(code), "request": {"method": "POST", "url": "SearchParameter"}},
        {"resource": _nicknamed("阿五"), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": f"Patient?{code}=阿五"}},
    ]}
    response = a.post("/fhir", json=bundle)
    assert response.status_code == 200, response.json
    assert response.json["entry"][2]["resource"]["total"] == 1


def test_the_capability_statement_lists_the_search_parameters_stored_in_this_server(two_apps):
    a, b = (app.test_client() for app in two_apps)
    code = f"nick{uuid.uuid4().hex[:6]}"
    _teach_nick(a, code)

    def patient_params(client) -> dict:
        statement = client.get("/fhir/metadata").json
        patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
        return {p["name"]: p for p in patient["searchParam"]}

    listed = patient_params(a)
    assert listed[code] == {"name": code, "definition": f"http://jiayi.test/SearchParameter/{code}", "type": "string"}
    assert "identifier" in listed and "name" in listed  # the standard ones stay
    assert code not in patient_params(b)


def test_a_transaction_creates_conditionally_by_a_custom_parameter(two_apps):
    """The lock key of a conditional create entry is built from the store's own parameters too."""
    a, _ = (app.test_client() for app in two_apps)
    code = f"nick{uuid.uuid4().hex[:6]}"
    patient_id = _teach_nick(a, code)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": _nicknamed(nick), "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"{code}={nick}"}}
        for nick in ("小五", "小七")]}
    response = a.post("/fhir", json=bundle)
    assert response.status_code == 200, response.json
    existing, created = (e["response"] for e in response.json["entry"])
    assert existing["status"] == "200 OK" and f"/Patient/{patient_id}/" in existing["location"]
    assert created["status"] == "201 Created"
