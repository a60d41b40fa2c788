"""Search operations and full text on the in-memory twin: the same answers as on the databases
(tests/api/test_search_operations.py), plus what needs an empty store to check."""

from __future__ import annotations

import pytest

from fhir_server.app import create_app
from fhir_server.core.clock import counting_ids
from fhir_server.operations import search_operations
from fhir_server.repository.memory import MemoryRepository

NARRATIVE = '<div xmlns="http://www.w3.org/1999/xhtml">{}</div>'


@pytest.fixture()
def client():
    repo = MemoryRepository(ids=counting_ids("r"))
    return create_app({"TESTING": True, "BASE_URL": "http://twin/fhir"}, repository=repo).test_client()


def _create(client, resource: dict) -> str:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _keys(bundle: dict) -> set[tuple[str, str]]:
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", [])
            if e["search"]["mode"] == "match"}


def _two_residents(client) -> dict[str, str]:
    ids = {"a": _create(client, {"resourceType": "Patient", "name": [{"family": "单", "given": ["长春"]}],
                                 "text": {"status": "generated", "div": NARRATIVE.format("高血压签约居民")}}),
           "b": _create(client, {"resourceType": "Patient", "name": [{"text": "曾乐"}]})}
    ids["obs_a"] = _create(client, {"resourceType": "Observation", "status": "final", "code": {"text": "血压"},
                                    "subject": {"reference": f"Patient/{ids['a']}"},
                                    "text": {"status": "generated", "div": NARRATIVE.format("血压偏高")}})
    ids["obs_b"] = _create(client, {"resourceType": "Observation", "status": "final", "code": {"text": "体重"},
                                    "subject": {"reference": f"Patient/{ids['b']}"}})
    return ids


def test_system_level_full_text_and_pinyin(client):
    ids = _two_residents(client)
    found = client.get("/fhir?_text=血压&_type=Patient,Observation").get_json()
    assert _keys(found) == {("Patient", ids["a"]), ("Observation", ids["obs_a"])}
    assert _keys(client.get("/fhir/Patient?name:pinyin=shan chang").get_json()) == {("Patient", ids["a"])}
    assert _keys(client.get("/fhir/Patient?name:pinyin=zengyue").get_json()) == {("Patient", ids["b"])}
    compartment = client.get(f"/fhir/Patient/{ids['a']}/Observation?_content=血压").get_json()
    assert _keys(compartment) == {("Observation", ids["obs_a"])}


def test_type_level_everything_and_its_guard(client, monkeypatch):
    ids = _two_residents(client)
    every = client.get("/fhir/Patient/$everything").get_json()
    assert _keys(every) == {("Patient", ids["a"]), ("Patient", ids["b"]), ("Observation", ids["obs_a"]),
                            ("Observation", ids["obs_b"])}
    monkeypatch.setattr(search_operations, "EVERYTHING_MAX_PATIENTS", 1)
    refused = client.get("/fhir/Patient/$everything")
    assert refused.status_code == 400 and refused.get_json()["issue"][0]["code"] == "too-costly"


def test_reindex_and_meta_on_the_twin(client):
    ids = _two_residents(client)
    counted = client.post("/fhir/Patient/$reindex").get_json()
    assert next(p for p in counted["parameter"] if p["name"] == "count")["valueInteger"] == 2
    tag = {"system": "http://jiayi.test/tags", "code": "vip"}
    add = {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"tag": [tag]}}]}
    assert client.post(f"/fhir/Patient/{ids['b']}/$meta-add", json=add).status_code == 200
    typed = client.get("/fhir/Patient/$meta").get_json()["parameter"][0]["valueMeta"]
    assert typed == {"tag": [tag]}
    assert client.get("/fhir/Observation/$meta").get_json()["parameter"][0]["valueMeta"] == {}
    assert _keys(client.get("/fhir/Patient?_tag=http://jiayi.test/tags|vip").get_json()) == {("Patient", ids["b"])}
