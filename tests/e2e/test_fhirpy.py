"""A hospital integration drives the running server with fhirpy (and plain requests for what
fhirpy does not do): CRUD, token search, history, conditional create, delete, transaction,
XML (R4 http, R4 §2.6)."""

from __future__ import annotations

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from e2e.conftest import PATIENT_ID_SYSTEM, patient_json
from fhir_server.formats.xml import xml_to_resource

pytestmark = pytest.mark.e2e

FHIR_XML = "application/fhir+xml"


@pytest.fixture()
def fhir(server) -> SyncFHIRClient:
    return SyncFHIRClient(server, requests_config={"timeout": 30})


def _content(resource: dict) -> dict:
    """The resource without what the server assigns (meta.versionId, meta.lastUpdated)."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    return {**{k: v for k, v in resource.items() if k != "meta"}, **({"meta": meta} if meta else {})}


def test_create_read_update_keeps_chinese_text(fhir, unique):
    patient = fhir.resource("Patient", **patient_json(unique))
    patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"
    read = fhir.reference("Patient", patient.id).to_resource()
    assert read["name"][0]["text"] == "王秀英" and read["address"][0]["city"] == "杭州市"
    read["telecom"] = [{"system": "phone", "value": "13800138000", "use": "mobile"}]
    read.save()
    again = fhir.reference("Patient", patient.id).to_resource()
    assert again["meta"]["versionId"] == "2" and again["telecom"][0]["value"] == "13800138000"


def test_search_by_identifier_token(fhir, unique):
    created = fhir.resource("Patient", **patient_json(unique)).save()
    fhir.resource("Patient", **patient_json(unique + "x")).save()
    found = fhir.resources("Patient").search(identifier=f"{PATIENT_ID_SYSTEM}|{unique}").fetch_all()
    assert [p.id for p in found] == [created.id]
    assert fhir.resources("Patient").search(identifier=unique).count() == 1
    assert fhir.resources("Patient").search(identifier=f"urn:other|{unique}").count() == 0


def test_history_lists_every_version_newest_first(fhir, unique):
    patient = fhir.resource("Patient", **patient_json(unique)).save()
    for gender in ("male", "other"):
        patient["gender"] = gender
        patient.save()
    history = fhir.execute(f"Patient/{patient.id}/_history", method="get")
    assert history["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["3", "2", "1"]
    assert [e["resource"]["gender"] for e in history["entry"]] == ["other", "male", "female"]


def test_conditional_create_returns_the_existing_resource(fhir, unique):
    search = fhir.resources("Patient").search(identifier=f"{PATIENT_ID_SYSTEM}|{unique}")
    first, created = search.get_or_create(fhir.resource("Patient", **patient_json(unique)))
    assert created
    second, created_again = search.get_or_create(fhir.resource("Patient", **patient_json(unique)))
    assert not created_again and second.id == first.id
    assert search.count() == 1


def test_delete_then_read_is_gone(fhir, server, unique):
    patient = fhir.resource("Patient", **patient_json(unique)).save()
    patient.delete()
    with pytest.raises(ResourceNotFound):
        fhir.reference("Patient", patient.id).to_resource()
    response = requests.get(f"{server}/Patient/{patient.id}", timeout=30)
    assert response.status_code == 410
    assert response.json()["resourceType"] == "OperationOutcome"


def test_transaction_with_urn_uuid_references(server, unique):
    patient_urn = "urn:uuid:1c7f9a52-6a8e-4d1e-9f7d-1d0c5b7f3a01"
    encounter_urn = "urn:uuid:8e2b0d44-3f7a-4c55-a0f1-77e3b2d9c402"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": encounter_urn, "request": {"method": "POST", "url": "Encounter"},
         "resource": {"resourceType": "Encounter", "status": "finished", "subject": {"reference": patient_urn},
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"}}},
        {"fullUrl": "urn:uuid:5a4e3c2b-1d0f-4e9a-8b7c-6d5e4f3a2b03",
         "request": {"method": "POST", "url": "Observation"},
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "收缩压"},
                      "subject": {"reference": patient_urn}, "encounter": {"reference": encounter_urn},
                      "valueQuantity": {"value": 142, "unit": "mmHg", "system": "http://unitsofmeasure.org",
                                        "code": "mm[Hg]"}}},
        {"fullUrl": patient_urn, "request": {"method": "POST", "url": "Patient"}, "resource": patient_json(unique)},
    ]}
    response = requests.post(server, json=bundle, headers={"Content-Type": "application/fhir+json"}, timeout=30)
    assert response.status_code == 200, response.text
    locations = [e["response"]["location"] for e in response.json()["entry"]]
    encounter, observation, patient = (requests.get(_current(server, loc), timeout=30).json() for loc in locations)
    assert encounter["subject"]["reference"] == observation["subject"]["reference"] == f"Patient/{patient['id']}"
    assert observation["encounter"]["reference"] == f"Encounter/{encounter['id']}"


def _current(server: str, location: str) -> str:
    """…/Type/id/_history/n (absolute or relative) → the URL of the current version."""
    relative = location.split("/fhir/")[-1].split("/_history")[0]
    return f"{server}/{relative}"


def test_xml_read_converts_to_the_same_json(fhir, server, unique):
    patient = fhir.resource("Patient", **patient_json(unique)).save()
    response = requests.get(f"{server}/Patient/{patient.id}", params={"_format": "xml"}, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(FHIR_XML)
    assert "王秀英" in response.content.decode("utf-8") and "&lt;签约居民&gt;" in response.content.decode("utf-8")
    as_json = requests.get(f"{server}/Patient/{patient.id}", timeout=30).json()
    assert xml_to_resource(response.content) == as_json


def test_xml_create_reads_back_as_json(server, unique):
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <identifier><system value="{PATIENT_ID_SYSTEM}"/><value value="{unique}"/></identifier>
  <active value="true"/>
  <name><text value="李建国"/><family value="李"/><given value="建国"/></name>
  <birthDate value="1952-07-15"/>
</Patient>"""
    response = requests.post(f"{server}/Patient", data=body.encode("utf-8"), params={"_format": "xml"},
                             headers={"Content-Type": FHIR_XML}, timeout=30)
    assert response.status_code == 201, response.text
    created = xml_to_resource(response.content)
    stored = requests.get(f"{server}/Patient/{created['id']}", timeout=30).json()
    assert _content(stored) == _content(created) == {
        "resourceType": "Patient", "id": created["id"], "active": True, "birthDate": "1952-07-15",
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": unique}],
        "name": [{"text": "李建国", "family": "李", "given": ["建国"]}]}


def test_front_desk_finds_a_resident_by_pinyin_and_by_narrative(fhir, unique):
    narrative = f'<div xmlns="http://www.w3.org/1999/xhtml">高血压随访 {unique}</div>'
    resident = fhir.resource("Patient", **patient_json(unique, text={"status": "generated", "div": narrative}))
    resident.save()
    by_pinyin = fhir.resources("Patient").search(identifier=unique).search(**{"name:pinyin": "wang xiu"})
    assert [p.id for p in by_pinyin.fetch_all()] == [resident.id]
    assert fhir.resources("Patient").search(identifier=unique).search(**{"name:pinyin": "wxy"}).count() == 1
    assert fhir.resources("Patient").search(identifier=unique).search(**{"name:pinyin": "lxy"}).count() == 0
    by_text = fhir.resources("Patient").search(_text="高血压").search(_content=unique)
    assert [p.id for p in by_text.fetch_all()] == [resident.id]
