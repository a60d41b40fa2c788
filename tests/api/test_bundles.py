"""batch and transaction (R4 http §transaction): atomicity, urn:uuid and conditional references,
processing order, response order."""

from __future__ import annotations

from api.conftest import patient


def _post(client, bundle):
    return client.post("/fhir", json=bundle)


def test_transaction_rewrites_urn_uuid_everywhere(client, unique):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "血压"},
                      "subject": {"reference": "urn:uuid:88f151c0-a954-468a-88d8-5f5b3b6b3f0a"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:88f151c0-a954-468a-88d8-5f5b3b6b3f0a", "resource": patient(unique),
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    response = _post(client, bundle)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["type"] == "transaction-response"
    observation_loc, patient_loc = (e["response"]["location"] for e in body["entry"])
    assert "Observation/" in observation_loc and "Patient/" in patient_loc
    pid = patient_loc.split("/Patient/")[1].split("/")[0]
    obs = client.get("/fhir" + observation_loc.split("/fhir")[1].split("/_history")[0]).get_json()
    assert obs["subject"]["reference"] == f"Patient/{pid}"


def test_transaction_is_atomic(client, unique):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient(unique), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "not-a-status", "code": {"text": "x"}},
         "request": {"method": "POST", "url": "Observation"}},
    ]}
    response = _post(client, bundle)
    assert response.status_code == 400
    assert "Bundle.entry[1]" in response.get_json()["issue"][0]["diagnostics"]
    found = client.get(f"/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.2|{unique}").get_json()
    assert found.get("total", 0) == 0


def test_conditional_create_and_reference_in_transaction(client, unique):
    client.post("/fhir/Patient", json=patient(unique))
    criteria = f"identifier=urn:oid:2.16.156.10011.1.2|{unique}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "resource": patient(unique),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}},
        {"resource": {"resourceType": "Encounter", "status": "finished",
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH"},
                      "subject": {"reference": f"Patient?{criteria}"}},
         "request": {"method": "POST", "url": "Encounter"}},
    ]}
    body = _post(client, bundle).get_json()
    assert body["entry"][0]["response"]["status"].startswith("200")
    existing = body["entry"][0]["response"]["location"].split("/fhir/")[1].split("/_history")[0]
    encounter = client.get("/fhir/" + body["entry"][1]["response"]["location"].split("/fhir/")[1]).get_json()
    assert encounter["subject"]["reference"] == existing


def test_processing_order_delete_post_put_get(client, unique):
    pid = client.post("/fhir/Patient", json=patient(unique)).get_json()["id"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": f"Patient/{pid}"}},
        {"resource": patient(unique, id=pid, gender="female"), "request": {"method": "PUT", "url": f"Patient/{pid}"}},
    ]}
    body = _post(client, bundle).get_json()
    assert body["entry"][0]["resource"]["gender"] == "female"  # GET runs after the PUT


def test_batch_entries_fail_independently(client, unique):
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": patient(unique), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/nope-" + unique}},
    ]}
    body = _post(client, bundle).get_json()
    assert body["type"] == "batch-response"
    assert body["entry"][0]["response"]["status"].startswith("201")
    assert body["entry"][1]["response"]["status"].startswith("404")


def test_conditional_updates_are_matched_once_before_anything_is_written(client, unique):
    """Two entries updating by the same criteria would write one resource twice: refused."""
    criteria = f"Patient?identifier=urn:oid:2.16.156.10011.1.2|{unique}"
    entry = {"resource": patient(unique), "request": {"method": "PUT", "url": criteria}}
    response = _post(client, {"resourceType": "Bundle", "type": "transaction", "entry": [entry, entry]})
    assert response.status_code == 400
    assert "both write" in response.get_json()["issue"][0]["diagnostics"]
    assert client.get(f"/fhir/{criteria}").get_json().get("total", 0) == 0


def test_conditional_update_in_a_transaction_updates_the_match_and_creates_when_none(client, unique):
    criteria = f"Patient?identifier=urn:oid:2.16.156.10011.1.2|{unique}"
    put = {"fullUrl": "urn:uuid:2d0e3a51-8a8e-4c55-9d9e-1f1f7e0b6a01", "resource": patient(unique),
           "request": {"method": "PUT", "url": criteria}}
    obs = {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "体重"},
                        "subject": {"reference": put["fullUrl"]}},
           "request": {"method": "POST", "url": "Observation"}}
    first = _post(client, {"resourceType": "Bundle", "type": "transaction", "entry": [put, obs]})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["entry"][0]["response"]["status"].startswith("201")
    changed = {**put, "resource": {**patient(unique), "gender": "female"}}
    second = _post(client, {"resourceType": "Bundle", "type": "transaction", "entry": [changed, obs]})
    assert second.status_code == 200, second.get_json()
    assert second.get_json()["entry"][0]["response"]["status"].startswith("200")
    found = client.get(f"/fhir/{criteria}").get_json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["gender"] == "female"
    pid = found["entry"][0]["resource"]["id"]
    observations = client.get(f"/fhir/Observation?subject=Patient/{pid}").get_json()
    assert observations["total"] == 2
