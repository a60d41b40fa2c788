"""The write paths at their edges, as a client sees them (R4 http §update, §cond-update, §patch,
§cdelete, §concurrency, §transaction), on SQLite and PostgreSQL: what a 412 says, conditional
PUT, PATCH and DELETE with no, one and several matches (by URL and as transaction entries, with
``ifMatch``), update-as-create and re-creation after a delete, the PATCH bodies that are not
patches.  Written from the mutation runs of interactions/ (docs/testing.md).
"""

from __future__ import annotations

import base64
import json

import pytest
from api.conftest import FHIR_JSON, patient

ID_SYSTEM = "urn:oid:2.16.156.10011.1.2"
JSON_PATCH = "application/json-patch+json"
GENDER_OTHER = [{"op": "replace", "path": "/gender", "value": "other"}]


def _create(client, unique: str, **extra) -> str:
    response = client.post("/fhir/Patient", json=patient(unique, **extra), content_type=FHIR_JSON)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _current(client, pid: str):
    return client.get(f"/fhir/Patient/{pid}")


def _criteria(unique: str) -> str:
    return f"identifier={ID_SYSTEM}|{unique}"


def _transaction(*entries: dict):
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _only_issue(response) -> dict:
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome", outcome
    (issue,) = outcome["issue"]
    return issue


# --- what a 412 says -----------------------------------------------------------------------------

def test_a_stale_if_match_names_both_versions(client, unique):
    pid = _create(client, unique)
    response = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid), headers={"If-Match": 'W/"4"'})
    assert response.status_code == 412
    issue = _only_issue(response)
    assert (issue["severity"], issue["code"]) == ("error", "conflict")
    assert issue["diagnostics"] == "If-Match names version 4 but the current version is 1"


def test_if_match_on_an_update_as_create_says_there_is_no_current_version(client, unique):
    pid = f"new-{unique}"
    response = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid), headers={"If-Match": 'W/"1"'})
    assert response.status_code == 412
    assert _only_issue(response)["diagnostics"] == "If-Match names version 1 but the current version is none"


def test_if_match_with_surrounding_spaces_in_an_entry(client, unique):
    """Bundle.entry.request.ifMatch is a string as the client wrote it: spaces around the ETag
    do not make it another version."""
    pid = _create(client, unique)
    entry = {"resource": patient(unique, id=pid, gender="other"),
             "request": {"method": "PUT", "url": f"Patient/{pid}", "ifMatch": ' W/"1" '}}
    response = client.post("/fhir", json=_transaction(entry), content_type=FHIR_JSON)
    assert response.status_code == 200, response.get_json()
    assert _current(client, pid).get_json()["gender"] == "other"


# --- update: created, updated, re-created ----------------------------------------------------------

def test_update_of_a_live_resource_answers_200_without_location(client, unique):
    pid = _create(client, unique)
    response = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other"))
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"2"'
    assert "Location" not in response.headers
    assert response.get_json()["gender"] == "other" and response.get_json()["meta"]["versionId"] == "2"


def test_update_as_create_and_after_a_delete_answer_201_with_the_version_location(client, unique):
    pid = f"p-{unique}"
    created = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid))
    assert created.status_code == 201
    assert created.headers["Location"] == f"http://testserver/fhir/Patient/{pid}/_history/1"
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    # the same content as version 1: after a delete it is written again, not "unchanged"
    again = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid))
    assert again.status_code == 201 and again.headers["ETag"] == 'W/"3"'
    assert again.headers["Location"] == f"http://testserver/fhir/Patient/{pid}/_history/3"
    assert _current(client, pid).status_code == 200


def test_history_records_each_write_by_its_method(client, unique):
    pid = _create(client, unique)
    assert client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other")).status_code == 200
    ops = [{"op": "replace", "path": "/gender", "value": "female"}]
    assert client.patch(f"/fhir/Patient/{pid}", data=json.dumps(ops), content_type=JSON_PATCH).status_code == 200
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    assert client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid)).status_code == 201
    history = client.get(f"/fhir/Patient/{pid}/_history").get_json()
    assert [e["request"]["method"] for e in history["entry"]] == ["PUT", "DELETE", "PATCH", "PUT", "POST"]


def test_an_update_that_only_changes_server_meta_keeps_the_version(client, unique):
    pid = _create(client, unique)
    body = patient(unique, id=pid, meta={"versionId": "7", "lastUpdated": "2001-01-01T00:00:00Z"})
    response = client.put(f"/fhir/Patient/{pid}", json=body)
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"1"'
    assert "Location" not in response.headers
    assert response.get_json()["meta"]["versionId"] == "1"


def test_an_invalid_update_writes_nothing(client, unique):
    pid = _create(client, unique)
    response = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="bogus"))
    assert response.status_code == 400
    assert _current(client, pid).headers["ETag"] == 'W/"1"'


# --- conditional PUT -----------------------------------------------------------------------------

def _conditional_put(client, unique: str, body: dict, headers: dict | None = None):
    return client.put(f"/fhir/Patient?{_criteria(unique)}", json=body, headers=headers or {})


def test_conditional_put_with_no_match_creates_with_a_new_id(client, unique):
    response = _conditional_put(client, unique, patient(unique))
    assert response.status_code == 201, response.get_json()
    pid = response.get_json()["id"]
    assert response.headers["Location"] == f"http://testserver/fhir/Patient/{pid}/_history/1"
    assert _current(client, pid).status_code == 200


def test_conditional_put_with_no_match_creates_at_the_body_id(client, unique):
    pid = f"c-{unique}"
    response = _conditional_put(client, unique, patient(unique, id=pid))
    assert response.status_code == 201 and response.get_json()["id"] == pid
    assert response.headers["Location"].endswith(f"/Patient/{pid}/_history/1")


def test_conditional_put_with_no_match_but_a_body_id_in_use_is_a_conflict(client, unique):
    pid = _create(client, unique + "x")  # does not match the criteria
    response = _conditional_put(client, unique, patient(unique, id=pid))
    assert response.status_code == 409
    assert _only_issue(response)["diagnostics"] == (
        f"No Patient matches '{_criteria(unique)}', but Patient/{pid} exists already")
    assert _current(client, pid).headers["ETag"] == 'W/"1"'


def test_conditional_put_with_no_match_may_reuse_a_deleted_id(client, unique):
    pid = _create(client, unique + "x")
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    response = _conditional_put(client, unique, patient(unique, id=pid))
    assert response.status_code == 201 and response.headers["ETag"] == 'W/"3"'


def test_conditional_put_with_no_match_refuses_a_malformed_body_id(client, unique):
    response = _conditional_put(client, unique, patient(unique, id="bad id!"))
    assert response.status_code == 400


def test_conditional_put_with_one_match_updates_it(client, unique):
    pid = _create(client, unique)
    for body in (patient(unique, gender="other"), patient(unique, id=pid, gender="female")):
        response = _conditional_put(client, unique, body)
        assert response.status_code == 200 and response.get_json()["id"] == pid
        assert "Location" not in response.headers
    assert _current(client, pid).headers["ETag"] == 'W/"3"'


def test_conditional_put_whose_body_id_is_not_the_match_is_refused(client, unique):
    pid = _create(client, unique)
    response = _conditional_put(client, unique, patient(unique, id=f"o-{unique}", gender="other"))
    assert response.status_code == 400
    issue = _only_issue(response)
    assert issue["diagnostics"] == f"The body's id 'o-{unique}' differs from the matching Patient/{pid}"
    assert issue["expression"] == ["Patient.id"]
    assert _current(client, pid).get_json()["gender"] == "male"


# --- several matches: 412 on PUT, PATCH, DELETE ------------------------------------------------------

def _two_matching(client, unique: str) -> list[str]:
    return [_create(client, unique), _create(client, unique)]


CONDITIONAL_WRITES = {
    "PUT": lambda client, unique: _conditional_put(client, unique, patient(unique, gender="other")),
    "PATCH": lambda client, unique: client.patch(f"/fhir/Patient?{_criteria(unique)}", data=json.dumps(GENDER_OTHER),
                                                 content_type=JSON_PATCH),
    "DELETE": lambda client, unique: client.delete(f"/fhir/Patient?{_criteria(unique)}"),
}


@pytest.mark.parametrize("method", list(CONDITIONAL_WRITES))
def test_conditional_write_with_several_matches_is_refused(client, unique, method):
    pids = _two_matching(client, unique)
    response = CONDITIONAL_WRITES[method](client, unique)
    assert response.status_code == 412, response.get_json()
    issue = _only_issue(response)
    assert issue["code"] == "multiple-matches"
    assert issue["diagnostics"].startswith(f"The criteria '{_criteria(unique)}' match more than one Patient")
    for pid in pids:
        assert _current(client, pid).headers["ETag"] == 'W/"1"'


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_conditional_transaction_entry_with_several_matches_fails_the_transaction(client, unique, method):
    _two_matching(client, unique)
    request = {"method": method, "url": f"Patient?{_criteria(unique)}"}
    entry: dict = {"request": request}
    if method == "PUT":
        entry["resource"] = patient(unique, gender="other")
    if method == "PATCH":
        entry["resource"] = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"},
            {"name": "value", "valueCode": "other"}]}]}
    response = client.post("/fhir", json=_transaction(entry), content_type=FHIR_JSON)
    assert response.status_code == 412, response.get_json()
    found = client.get(f"/fhir/Patient?{_criteria(unique)}").get_json()
    assert found["total"] == 2 and {e["resource"]["gender"] for e in found["entry"]} == {"male"}


def test_conditional_patch_with_no_match_is_not_found(client, unique):
    response = CONDITIONAL_WRITES["PATCH"](client, unique)
    assert response.status_code == 404
    assert _only_issue(response)["diagnostics"] == f"No Patient matches '{_criteria(unique)}'"


def test_conditional_delete_with_no_match_changes_nothing(client, unique):
    assert CONDITIONAL_WRITES["DELETE"](client, unique).status_code == 204


@pytest.mark.parametrize("method", list(CONDITIONAL_WRITES))
def test_conditional_write_with_one_match_writes_it(client, unique, method):
    pid = _create(client, unique)
    response = CONDITIONAL_WRITES[method](client, unique)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == 'W/"2"'
    assert _current(client, pid).status_code == (410 if method == "DELETE" else 200)


# --- If-Match on conditional writes, by URL and as transaction entries -------------------------------

@pytest.mark.parametrize("method", list(CONDITIONAL_WRITES))
@pytest.mark.parametrize(("tag", "status"), [('W/"1"', 200), ('W/"2"', 412)])
def test_if_match_on_a_conditional_write(client, unique, method, tag, status):
    pid = _create(client, unique)
    call = {
        "PUT": lambda: _conditional_put(client, unique, patient(unique, gender="other"), {"If-Match": tag}),
        "PATCH": lambda: client.patch(f"/fhir/Patient?{_criteria(unique)}", data=json.dumps(GENDER_OTHER),
                                      content_type=JSON_PATCH, headers={"If-Match": tag}),
        "DELETE": lambda: client.delete(f"/fhir/Patient?{_criteria(unique)}", headers={"If-Match": tag}),
    }[method]
    response = call()
    assert response.status_code == status, response.get_json()
    current = _current(client, pid)
    assert current.status_code == (410 if (status, method) == (200, "DELETE") else 200)
    assert current.headers["ETag"] == ('W/"2"' if status == 200 else 'W/"1"')


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(("tag", "status"), [('W/"1"', 200), ('W/"2"', 412)])
def test_if_match_on_a_conditional_transaction_entry(client, unique, method, tag, status):
    pid = _create(client, unique)
    request = {"method": method, "url": f"Patient?{_criteria(unique)}", "ifMatch": tag}
    entry: dict = {"request": request}
    if method == "PUT":
        entry["resource"] = patient(unique, gender="other")
    if method == "PATCH":
        entry["resource"] = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"},
            {"name": "value", "valueCode": "other"}]}]}
    response = client.post("/fhir", json=_transaction(entry), content_type=FHIR_JSON)
    assert response.status_code == status, response.get_json()
    expected = 410 if (status, method) == (200, "DELETE") else 200
    assert _current(client, pid).status_code == expected
    if expected == 200:
        assert _current(client, pid).headers["ETag"] == ('W/"2"' if status == 200 else 'W/"1"')


# --- PATCH at its edges --------------------------------------------------------------------------

def test_patch_of_an_unknown_or_deleted_resource(client, unique):
    missing = client.patch(f"/fhir/Patient/none-{unique}", data=json.dumps(GENDER_OTHER), content_type=JSON_PATCH)
    assert missing.status_code == 404
    pid = _create(client, unique)
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    gone = client.patch(f"/fhir/Patient/{pid}", data=json.dumps(GENDER_OTHER), content_type=JSON_PATCH)
    assert gone.status_code == 410 and gone.headers["ETag"] == 'W/"2"'
    unknown_type = client.patch(f"/fhir/Patientt/{pid}", data=json.dumps(GENDER_OTHER), content_type=JSON_PATCH)
    assert unknown_type.status_code == 404


NOT_A_PATCH = ("PATCH takes a JSON Patch (application/json-patch+json) or a FHIRPath Patch Parameters resource "
               "(application/fhir+json or application/fhir+xml)")


@pytest.mark.parametrize(("body", "content_type", "code", "diagnostics"), [
    ({"op": "replace", "path": "/gender", "value": "other"}, JSON_PATCH, "structure",
     "A JSON Patch body must be an array of operations"),  # not an array
    ({"resourceType": "Patient", "gender": "other"}, FHIR_JSON, "not-supported", NOT_A_PATCH),  # a resource
    (GENDER_OTHER, FHIR_JSON, "not-supported", NOT_A_PATCH),  # a JSON Patch under the wrong media type
], ids=["json-patch object", "resource", "json-patch as fhir+json"])
def test_a_patch_body_that_is_not_a_patch_is_refused(client, unique, body, content_type, code, diagnostics):
    pid = _create(client, unique)
    response = client.patch(f"/fhir/Patient/{pid}", data=json.dumps(body), content_type=content_type)
    assert response.status_code == 400, response.get_json()
    issue = _only_issue(response)
    assert (issue["code"], issue["diagnostics"]) == (code, diagnostics)
    assert _current(client, pid).headers["ETag"] == 'W/"1"'


def test_a_patch_of_server_meta_only_keeps_the_version(client, unique):
    pid = _create(client, unique)
    ops = [{"op": "replace", "path": "/meta/versionId", "value": "9"}]
    response = client.patch(f"/fhir/Patient/{pid}", data=json.dumps(ops), content_type=JSON_PATCH)
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"1"'
    assert response.get_json()["meta"]["versionId"] == "1"


def test_a_patch_answers_the_patched_resource(client, unique):
    pid = _create(client, unique)
    response = client.patch(f"/fhir/Patient/{pid}", data=json.dumps(GENDER_OTHER), content_type=JSON_PATCH)
    assert response.status_code == 200 and "Location" not in response.headers
    body = response.get_json()
    assert (body["id"], body["gender"], body["meta"]["versionId"]) == (pid, "other", "2")
    assert body["birthDate"] == "1950-03-04"  # the rest kept


def test_a_patch_with_only_warnings_is_written(client, unique):
    """Warnings (here an extensible binding's code outside its value set) do not stop a patch."""
    pid = _create(client, unique)
    ops = [{"op": "add", "path": "/maritalStatus", "value": {"coding": [{"system": "urn:x", "code": "zz"}]}}]
    response = client.patch(f"/fhir/Patient/{pid}", data=json.dumps(ops), content_type=JSON_PATCH)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == 'W/"2"'


@pytest.mark.parametrize("match", [True, False], ids=["a match", "no match"])
def test_a_conditional_put_entry_whose_resource_is_of_another_type_is_refused(client, unique, match):
    if match:
        _create(client, unique)
    entry = {"resource": {"resourceType": "Group", "type": "person", "actual": True},
             "request": {"method": "PUT", "url": f"Patient?{_criteria(unique)}"}}
    response = client.post("/fhir", json=_transaction(entry), content_type=FHIR_JSON)
    assert response.status_code == 400, response.get_json()
    assert _only_issue(response)["diagnostics"] == "Bundle.entry[0]: The body is a Group but the URL is for Patient"


@pytest.mark.parametrize(("value", "version"), [("other", "2"), ("male", "1")], ids=["changed", "unchanged"])
def test_patch_and_put_entries_answer_200_ok(client, unique, value, version):
    pid = _create(client, unique)
    ops = [{"op": "replace", "path": "/gender", "value": value}]
    patch_entry = {"resource": {"resourceType": "Binary", "contentType": JSON_PATCH,
                                "data": base64.b64encode(json.dumps(ops).encode()).decode()},
                   "request": {"method": "PATCH", "url": f"Patient/{pid}"}}
    response = client.post("/fhir", json=_transaction(patch_entry), content_type=FHIR_JSON)
    assert response.status_code == 200, response.get_json()
    (entry,) = response.get_json()["entry"]
    assert entry["response"]["status"] == "200 OK" and entry["response"]["etag"] == f'W/"{version}"'
    assert "location" not in entry["response"]
    put_entry = {"resource": patient(unique, id=pid, gender=value),
                 "request": {"method": "PUT", "url": f"Patient/{pid}"}}
    (entry,) = client.post("/fhir", json=_transaction(put_entry), content_type=FHIR_JSON).get_json()["entry"]
    assert entry["response"]["status"] == "200 OK" and entry["response"]["etag"] == f'W/"{version}"'


# --- If-None-Match on writes (RFC 9110 §13.1.2): * and a current version are 412 --------------------

def _write(client, method: str, pid: str, unique: str, headers: dict):
    return {
        "PUT": lambda: client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other"),
                                  headers=headers),
        "PATCH": lambda: client.patch(f"/fhir/Patient/{pid}", data=json.dumps(GENDER_OTHER),
                                      content_type=JSON_PATCH, headers=headers),
        "DELETE": lambda: client.delete(f"/fhir/Patient/{pid}", headers=headers),
    }[method]()


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(("tag", "status"), [("*", 412), ('W/"1"', 412), ('W/"3", W/"1"', 412),
                                             ('W/"2"', 200)])
def test_if_none_match_on_a_write(client, unique, method, tag, status):
    pid = _create(client, unique)
    response = _write(client, method, pid, unique, {"If-None-Match": tag})
    assert response.status_code == status, response.get_json()
    if status == 412:
        issue = _only_issue(response)
        assert issue["code"] == "conflict" and "If-None-Match" in issue["diagnostics"]
    expected = 410 if (status, method) == (200, "DELETE") else 200
    current = _current(client, pid)
    assert current.status_code == expected
    if expected == 200:
        assert current.headers["ETag"] == ('W/"2"' if status == 200 else 'W/"1"')


def test_if_none_match_star_on_put_creates_but_never_replaces(client, unique):
    pid = f"new-{unique}"
    first = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid), headers={"If-None-Match": "*"})
    assert first.status_code == 201, first.get_json()
    again = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other"),
                       headers={"If-None-Match": "*"})
    assert again.status_code == 412
    assert _only_issue(again)["diagnostics"] == f"If-None-Match: * but Patient/{pid} exists (version 1)"
    assert _current(client, pid).get_json().get("gender") != "other"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(("tag", "status"), [("*", 412), ('W/"1"', 412), ('W/"2"', 200)])
def test_if_none_match_on_a_transaction_entry(client, unique, method, tag, status):
    pid = _create(client, unique)
    request = {"method": method, "url": f"Patient/{pid}", "ifNoneMatch": tag}
    entry: dict = {"request": request}
    if method == "PUT":
        entry["resource"] = patient(unique, id=pid, gender="other")
    if method == "PATCH":
        entry["resource"] = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"},
            {"name": "value", "valueCode": "other"}]}]}
    response = client.post("/fhir", json=_transaction(entry), content_type=FHIR_JSON)
    assert response.status_code == status, response.get_json()
    expected = 410 if (status, method) == (200, "DELETE") else 200
    assert _current(client, pid).status_code == expected
    if expected == 200:
        assert _current(client, pid).headers["ETag"] == ('W/"2"' if status == 200 else 'W/"1"')
