"""batch and transaction entries at their edges (R4 http §transaction, §batch), written from the
survivors of a mutation run (docs/testing.md, fifth pass): a JSON Patch carried in a Binary,
what a failed batch entry says, conditional PUT entries that create, conditional criteria with a
'?' in a value or with no value, instance URLs with a query, what the response entries hold
(lastModified, fullUrl, Prefer), absolute and contained references — on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
from api.conftest import FHIR_JSON, patient

OID = "urn:oid:2.16.156.10011.1.2"
GENDER_FEMALE = [{"op": "replace", "path": "/gender", "value": "female"}]


def _post(client, entries: list[dict], kind: str = "transaction"):
    return client.post("/fhir", json={"resourceType": "Bundle", "type": kind, "entry": entries},
                       content_type=FHIR_JSON)


def _create(client, unique: str, **extra) -> str:
    response = client.post("/fhir/Patient", json=patient(unique, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _binary(data: bytes, content_type: str | None) -> dict:
    binary = {"resourceType": "Binary", "data": base64.b64encode(data).decode()}
    if content_type:
        binary["contentType"] = content_type
    return binary


# --- a JSON Patch in a Binary ---------------------------------------------------------------------

def test_a_binary_without_a_content_type_holds_a_json_patch(client, unique):
    pid = _create(client, unique)
    entry = {"resource": _binary(json.dumps(GENDER_FEMALE).encode(), None),
             "request": {"method": "PATCH", "url": f"Patient/{pid}"}}
    response = _post(client, [entry])
    assert response.status_code == 200, response.get_json()
    assert client.get(f"/fhir/Patient/{pid}").get_json()["gender"] == "female"


def test_a_binary_of_another_content_type_is_not_taken_for_a_json_patch(client, unique):
    pid = _create(client, unique)
    entry = {"resource": _binary(json.dumps(GENDER_FEMALE).encode(), "application/xml"),
             "request": {"method": "PATCH", "url": f"Patient/{pid}"}}
    response = _post(client, [entry])
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "not-supported"
    assert client.get(f"/fhir/Patient/{pid}").get_json()["gender"] == "male"


def test_a_binary_that_is_not_json_names_its_entry(client, unique):
    """Base64 of something that is not JSON: the entry is named, not "the body" (the Bundle,
    which is valid JSON)."""
    pid = _create(client, unique)
    for data in (b"not json", b"\xff\xfe"):
        entry = {"resource": _binary(data, "application/json-patch+json"),
                 "request": {"method": "PATCH", "url": f"Patient/{pid}"}}
        response = _post(client, [{"request": {"method": "GET", "url": f"Patient/{pid}"}}, entry])
        assert response.status_code == 400
        assert response.get_json()["issue"][0]["diagnostics"] == (
            "Bundle.entry[1].resource: the Binary does not hold a JSON Patch")


# --- batch ------------------------------------------------------------------------------------------

def test_a_batch_entry_without_a_method_fails_alone_and_says_which(client, unique):
    pid = _create(client, unique)
    response = _post(client, [{"request": {"method": "GET", "url": f"Patient/{pid}"}},
                              {"request": {"url": f"Patient/{pid}"}}], kind="batch")
    assert response.status_code == 200
    ok, failed = response.get_json()["entry"]
    assert ok["response"]["status"] == "200 OK"
    assert failed["response"]["status"] == "400 Bad Request"
    issue = failed["response"]["outcome"]["issue"][0]
    assert issue["diagnostics"] == ("Bundle.entry[1].request must have a method (GET, HEAD, POST, PUT, PATCH, "
                                    "DELETE) and a url")
    assert issue["expression"] == ["Bundle.entry[1].request"]


def test_entry_requests_that_are_not_requests_are_400_not_500(client, unique):
    pid = _create(client, unique)
    for request in ("GET Patient", {"method": "GET"}, {"method": "FETCH", "url": f"Patient/{pid}"}):
        response = _post(client, [{"request": request}])
        assert response.status_code == 400, (request, response.get_json())


def test_entry_urls_may_be_absolute_on_this_server_or_start_with_a_slash(client, unique):
    pid = _create(client, unique)
    for url in (f"http://testserver/fhir/Patient/{pid}", f"/Patient/{pid}"):
        response = _post(client, [{"request": {"method": "GET", "url": url}}], kind="batch")
        (entry,) = response.get_json()["entry"]
        assert entry["response"]["status"] == "200 OK", (url, entry)
        assert entry["resource"]["id"] == pid


def test_if_modified_since_on_a_read_entry(client, unique):
    pid = _create(client, unique)
    entries = [{"request": {"method": "GET", "url": f"Patient/{pid}", "ifModifiedSince": since}}
               for since in ("Fri, 01 Jan 2100 00:00:00 GMT", "Sat, 01 Jan 2000 00:00:00 GMT")]
    later, earlier = _post(client, entries, kind="batch").get_json()["entry"]
    assert later["response"]["status"] == "304 Not Modified" and "resource" not in later
    assert earlier["response"]["status"] == "200 OK" and earlier["resource"]["id"] == pid


# --- conditional PUT and instance URLs ----------------------------------------------------------------

def test_a_conditional_put_entry_that_creates_keeps_the_id_of_its_resource(client, unique):
    entry = {"resource": patient(unique, id=f"given-{unique}"),
             "request": {"method": "PUT", "url": f"Patient?identifier={OID}|{unique}"}}
    response = _post(client, [entry])
    assert response.status_code == 200, response.get_json()
    (created,) = response.get_json()["entry"]
    assert created["response"]["status"] == "201 Created"
    assert created["fullUrl"] == f"http://testserver/fhir/Patient/given-{unique}"
    assert client.get(f"/fhir/Patient/given-{unique}").status_code == 200


def test_a_conditional_put_entry_without_a_resource_is_400(client, unique):
    response = _post(client, [{"request": {"method": "PUT", "url": f"Patient?identifier={OID}|{unique}"}}])
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["expression"] == ["Bundle.entry[0]"]


def test_a_put_entry_without_an_id_is_not_a_conditional_update(client, unique):
    _create(client, unique)
    entry = {"fullUrl": "urn:uuid:5f0e7a8e-2f4b-4d3c-9a51-7d3c0f5e1b22", "resource": patient(unique),
             "request": {"method": "PUT", "url": "Patient"}}
    response = _post(client, [entry])
    assert response.status_code == 405, response.get_json()


def test_an_instance_put_entry_with_a_query_is_an_update(client, unique):
    pid = _create(client, unique)
    entry = {"resource": patient(unique, id=pid, gender="female"),
             "request": {"method": "PUT", "url": f"Patient/{pid}?_format=json"}}
    response = _post(client, [entry])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["entry"][0]["response"]["etag"] == 'W/"2"'


# --- conditional references -------------------------------------------------------------------------

def test_a_conditional_reference_whose_criteria_hold_a_question_mark(client, unique):
    value = f"{unique}?2"
    pid = _create(client, unique, identifier=[{"system": OID, "value": value}])
    entry = {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "体重"},
                          "subject": {"reference": f"Patient?identifier={OID}|{value}"}},
             "request": {"method": "POST", "url": "Observation"}}
    response = _post(client, [entry])
    assert response.status_code == 200, response.get_json()
    location = response.get_json()["entry"][0]["response"]["location"]
    observation = client.get("/fhir" + location.split("/fhir", 1)[1].split("/_history")[0]).get_json()
    assert observation["subject"] == {"reference": f"Patient/{pid}"}


def test_if_none_exist_whose_value_holds_a_question_mark(client, unique):
    """The criteria are a query: a '?' in a value is part of the value (the match is not
    everything after it)."""
    value = f"{unique}?2"
    pid = _create(client, unique, identifier=[{"system": OID, "value": value}])
    _create(client, unique + "x")
    response = client.post("/fhir/Patient", json=patient(unique, identifier=[{"system": OID, "value": value}]),
                           headers={"If-None-Exist": f"identifier={OID}|{value}"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == pid


def test_conditional_criteria_with_no_value_are_refused(client, unique):
    """``identifier=`` says nothing: it would match whatever is there (the search ignores empty
    parameters), so a conditional create, update or delete on it is 400."""
    _create(client, unique)
    _create(client, unique + "x")
    created = client.post("/fhir/Patient", json=patient(unique), headers={"If-None-Exist": "identifier="})
    assert created.status_code == 400, created.get_json()
    assert created.get_json()["issue"][0]["diagnostics"] == "Conditional criteria for Patient are empty"
    deleted = client.delete("/fhir/Patient?identifier=&gender=")
    assert deleted.status_code == 400, deleted.get_json()
    entry = {"resource": patient(unique), "request": {"method": "PUT", "url": "Patient?identifier="}}
    updated = _post(client, [entry])
    assert updated.status_code == 400, updated.get_json()
    assert updated.get_json()["issue"][0]["diagnostics"] == (
        "Bundle.entry[0]: Conditional criteria for Patient are empty")


# --- response entries ----------------------------------------------------------------------------------

def test_response_entries_carry_last_modified_and_a_deleted_one_no_full_url(client, unique):
    pid = _create(client, unique)
    gone = _create(client, unique + "d")
    response = _post(client, [{"resource": patient(unique, id=pid, gender="female"),
                               "request": {"method": "PUT", "url": f"Patient/{pid}"}},
                              {"request": {"method": "DELETE", "url": f"Patient/{gone}"}}])
    assert response.status_code == 200, response.get_json()
    updated, deleted = response.get_json()["entry"]
    assert updated["fullUrl"] == f"http://testserver/fhir/Patient/{pid}"
    assert updated["response"]["lastModified"] == updated["resource"]["meta"]["lastUpdated"]
    assert "fullUrl" not in deleted and deleted["response"]["etag"] == 'W/"2"'


@pytest.mark.parametrize("prefer", ["return=minimal", "return=OperationOutcome"])
def test_prefer_leaves_out_written_resources_but_not_read_ones(client, unique, prefer):
    pid = _create(client, unique)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient(unique + "n"), "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": f"Patient/{pid}"}}]}
    response = client.post("/fhir", json=bundle, content_type=FHIR_JSON, headers={"Prefer": prefer})
    assert response.status_code == 200, response.get_json()
    created, read = response.get_json()["entry"]
    assert "resource" not in created and created["response"]["status"] == "201 Created"
    assert read["resource"]["id"] == pid


# --- references in a transaction ------------------------------------------------------------------------

def _observation(subject: str, **extra) -> dict:
    return {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "体重"},
                         "subject": {"reference": subject}, **extra},
            "request": {"method": "POST", "url": "Observation"}}


def _stored(client, response) -> dict:
    location = response.get_json()["entry"][-1]["response"]["location"]
    return client.get("/fhir" + location.split("/fhir", 1)[1].split("/_history")[0]).get_json()


@pytest.mark.parametrize("matches", [0, 2])
def test_a_conditional_reference_that_does_not_match_one_says_how_many(client, unique, matches):
    for k in range(matches):
        _create(client, unique, gender="other" if k else "male")
    criteria = f"Patient?identifier={OID}|{unique}"
    response = _post(client, [_observation(criteria)])
    assert response.status_code == 412
    assert response.get_json()["issue"][0]["diagnostics"] == (
        f"Bundle.entry[0]: The conditional reference '{criteria}' matches {matches or 'no'} resources; "
        "it must match exactly one")


def test_absolute_references_to_this_server_become_relative_others_stay(client, unique):
    pid = _create(client, unique)
    here = _stored(client, _post(client, [_observation(f"http://testserver/fhir/Patient/{pid}")]))
    assert here["subject"] == {"reference": f"Patient/{pid}"}
    there = _stored(client, _post(client, [_observation(f"http://other.example.org/fhir/Patient/{pid}")]))
    assert there["subject"] == {"reference": f"http://other.example.org/fhir/Patient/{pid}"}


def test_references_in_contained_resources_are_resolved_too(client, unique):
    full_url = "urn:uuid:9a4f6f2e-8c1d-4b7e-a0c3-5e2d1f6b7a80"
    specimen = {"resourceType": "Specimen", "id": "s1", "subject": {"reference": full_url}}
    observation = _observation(full_url, contained=[specimen], specimen={"reference": "#s1"})
    response = _post(client, [{"fullUrl": full_url, "resource": patient(unique),
                               "request": {"method": "POST", "url": "Patient"}}, observation])
    assert response.status_code == 200, response.get_json()
    stored = _stored(client, response)
    pid = stored["subject"]["reference"]
    assert pid.startswith("Patient/") and stored["contained"][0]["subject"] == {"reference": pid}


# --- which entry failed, and a resource touched twice ------------------------------------------------

def test_a_failing_entry_is_named(client, unique):
    """Before anything runs (a malformed request, an unknown type) and while it runs (a
    validation issue keeps its own location; one without gets the entry's)."""
    ok = {"resource": patient(unique), "request": {"method": "POST", "url": "Patient"}}
    malformed = _post(client, [ok, {"request": {"method": "POST"}}])
    assert malformed.status_code == 400
    assert malformed.get_json()["issue"][0]["diagnostics"].startswith("Bundle.entry[1].request must have a method")
    unknown = _post(client, [ok, {"resource": {"resourceType": "Patient"},
                                  "request": {"method": "POST", "url": "Nope"}}])
    assert unknown.status_code in (400, 404)
    assert unknown.get_json()["issue"][0]["diagnostics"].startswith("Bundle.entry[1]: ")
    invalid = _post(client, [ok, {"resource": {"resourceType": "Observation", "status": "not-a-status",
                                               "code": {"text": "x"}},
                                  "request": {"method": "POST", "url": "Observation"}}])
    assert invalid.status_code == 400
    assert invalid.get_json()["issue"][0]["expression"] == ["Observation.status"]


def test_a_failed_read_in_a_transaction_keeps_its_headers(client, unique):
    pid = _create(client, unique)
    assert client.delete(f"/fhir/Patient/{pid}").status_code in (200, 204)
    response = _post(client, [{"request": {"method": "GET", "url": f"Patient/{pid}"}}])
    assert response.status_code == 410
    assert response.headers["ETag"] == 'W/"2"'


def test_a_resource_written_twice_is_refused_whatever_comes_between(client, unique):
    pid, other = _create(client, unique), _create(client, unique + "o")
    put = {"resource": patient(unique, id=pid, gender="female"), "request": {"method": "PUT", "url": f"Patient/{pid}"}}
    for between in ({"request": {"method": "GET", "url": f"Patient/{other}"}},
                    {"request": {"method": "HEAD", "url": f"Patient/{other}"}},
                    {"request": {"method": "DELETE", "url": f"Patient/{other}"}}):
        response = _post(client, [put, between, {"request": {"method": "DELETE", "url": f"Patient/{pid}"}}])
        assert response.status_code == 400, response.get_json()
        issue = response.get_json()["issue"][0]
        assert issue["code"] == "invalid"
        assert issue["diagnostics"] == (f"Bundle.entry[2] and Bundle.entry[0] both write Patient/{pid}; "
                                        "a transaction may touch a resource only once")
    fine = _post(client, [put, {"request": {"method": "HEAD", "url": f"Patient/{pid}"}},
                          {"request": {"method": "DELETE", "url": f"Patient/{other}"}}])
    assert fine.status_code == 200, fine.get_json()


def test_a_conditional_update_and_an_update_of_its_match_collide(client, unique):
    pid = _create(client, unique)
    by_id = {"resource": patient(unique, id=pid, gender="female"),
             "request": {"method": "PUT", "url": f"Patient/{pid}"}}
    by_criteria = {"resource": patient(unique, gender="other"),
                   "request": {"method": "PUT", "url": f"Patient?identifier={OID}|{unique}"}}
    response = _post(client, [by_id, by_criteria])
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["diagnostics"].startswith(
        f"Bundle.entry[1] and Bundle.entry[0] both write Patient/{pid};")


def test_a_conditional_update_entry_that_matches_nothing_but_names_a_taken_id(client, unique):
    pid = _create(client, unique)
    entry = {"resource": patient(unique + "z", id=pid), "request": {"method": "PUT",
                                                                   "url": f"Patient?identifier={OID}|{unique}z"}}
    response = _post(client, [entry])
    assert response.status_code == 409
    assert response.get_json()["issue"][0]["diagnostics"] == (
        f"Bundle.entry[0]: No Patient matches 'identifier={OID.replace(':', '%3A')}%7C{unique}z', "
        f"but Patient/{pid} exists already")


# --- conditional creates and the references to them ---------------------------------------------------

def test_references_to_a_conditional_create_reach_the_resource_it_stands_for(client, unique):
    """An entry that matched an existing resource, and a second entry with the same condition:
    references to either fullUrl land on that resource."""
    pid = _create(client, unique)
    condition = f"identifier={OID}|{unique}"
    existing = "urn:uuid:3b0d6c5e-1f0a-4c8e-9d7b-2a6e5f4c3b10"
    entries = [{"fullUrl": existing, "resource": patient(unique),
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": condition}},
               _observation(existing)]
    assert _stored(client, _post(client, entries))["subject"] == {"reference": f"Patient/{pid}"}
    fresh = f"identifier={OID}|{unique}n"
    first, second = "urn:uuid:3b0d6c5e-1f0a-4c8e-9d7b-2a6e5f4c3b11", "urn:uuid:3b0d6c5e-1f0a-4c8e-9d7b-2a6e5f4c3b12"
    response = _post(client, [
        {"fullUrl": first, "resource": patient(unique + "n"),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": fresh}},
        {"fullUrl": second, "resource": patient(unique + "n"),
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": fresh}},
        _observation(second)])
    assert response.status_code == 200, response.get_json()
    created = response.get_json()["entry"][0]["response"]["location"].split("/fhir/")[1].split("/_history")[0]
    assert _stored(client, response)["subject"] == {"reference": created}


def test_a_post_entry_to_an_instance_or_an_operation_is_not_a_create(client, unique):
    refused = _post(client, [{"resource": patient(unique), "request": {"method": "POST", "url": "Patient/abc"}}])
    assert refused.status_code == 405, refused.get_json()
    assert refused.get_json()["issue"][0]["diagnostics"] == "Bundle.entry[0]: POST is not supported at 'Patient/abc'"
    operation = _post(client, [{"resource": {"resourceType": "Parameters"},
                                "request": {"method": "POST", "url": "$meta"}}])
    assert operation.status_code == 200, operation.get_json()
    assert operation.get_json()["entry"][0]["resource"]["parameter"][0]["name"] == "return"


def test_an_entry_url_whose_id_ends_in_x(client, unique):
    """Resident ids taken from ID numbers may end in X: only slashes are trimmed from entry URLs."""
    pid = f"id{unique}X"
    assert client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid)).status_code == 201
    response = _post(client, [{"request": {"method": "GET", "url": f"Patient/{pid}"}}], kind="batch")
    assert response.get_json()["entry"][0]["resource"]["id"] == pid
