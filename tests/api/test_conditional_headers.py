"""Conditional headers on every path that honours them (R4 http §concurrency, §cread, §ccreate,
§transaction), each with the answer when the condition holds and when it does not — and
when it does not, nothing is written.  On SQLite and PostgreSQL.

- If-Match (``W/"n"``): PUT, conditional PUT, PATCH (JSON Patch and FHIRPath Patch), DELETE,
  and the ``ifMatch`` of PUT, PATCH and DELETE entries in a transaction and in a batch.
- If-None-Exist: POST, ``POST [type]?criteria``, and the ``ifNoneExist`` of POST entries.
- If-None-Match: read, vread and the ``ifNoneMatch`` of GET entries (304).  R4 gives it no
  meaning on a write (it is "for managing cache currency"), so the writes are not tested with it.
"""

from __future__ import annotations

import base64
import json

import pytest
from api.conftest import FHIR_JSON, patient

ID_SYSTEM = "urn:oid:2.16.156.10011.1.2"
JSON_PATCH = "application/json-patch+json"


def _create(client, unique: str) -> str:
    response = client.post("/fhir/Patient", json=patient(unique), content_type=FHIR_JSON)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _version(client, pid: str) -> str | int:
    response = client.get(f"/fhir/Patient/{pid}")
    return response.get_json()["meta"]["versionId"] if response.status_code == 200 else response.status_code


def _bundle(kind: str, *entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _send(client, bundle: dict):
    return client.post("/fhir", json=bundle, content_type=FHIR_JSON)


def _json_patch(ops: list[dict]) -> dict:
    return {"resourceType": "Binary", "contentType": JSON_PATCH,
            "data": base64.b64encode(json.dumps(ops).encode()).decode()}


GENDER_OTHER = [{"op": "replace", "path": "/gender", "value": "other"}]
FHIRPATH_PATCH = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
    {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"},
    {"name": "value", "valueCode": "other"}]}]}


# --- If-Match on the REST interactions -----------------------------------------------------------

def _put(client, unique, pid, headers):
    return client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other"), headers=headers)


def _conditional_put(client, unique, pid, headers):
    return client.put(f"/fhir/Patient?identifier={ID_SYSTEM}|{unique}", json=patient(unique, id=pid, gender="other"),
                      headers=headers)


def _json_patch_request(client, unique, pid, headers):
    return client.patch(f"/fhir/Patient/{pid}", data=json.dumps(GENDER_OTHER), content_type=JSON_PATCH,
                        headers=headers)


def _fhirpath_patch_request(client, unique, pid, headers):
    return client.patch(f"/fhir/Patient/{pid}", json=FHIRPATH_PATCH, content_type=FHIR_JSON, headers=headers)


def _delete(client, unique, pid, headers):
    return client.delete(f"/fhir/Patient/{pid}", headers=headers)


WRITES = {"PUT": _put, "conditional PUT": _conditional_put, "JSON Patch": _json_patch_request,
          "FHIRPath Patch": _fhirpath_patch_request, "DELETE": _delete}


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("stale", ['W/"2"', 'W/"0"', '"2"', "W/\"1 \""])
def test_if_match_naming_another_version_is_refused_and_writes_nothing(client, unique, write, stale):
    pid = _create(client, unique)
    response = WRITES[write](client, unique, pid, {"If-Match": stale})
    assert response.status_code == 412, (write, stale, response.get_json())
    assert response.get_json()["resourceType"] == "OperationOutcome"
    current = client.get(f"/fhir/Patient/{pid}")
    assert current.status_code == 200 and current.headers["ETag"] == 'W/"1"'
    assert current.get_json()["gender"] == "male"


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("tag", ['W/"1"', '"1"'])
def test_if_match_naming_the_current_version_writes(client, unique, write, tag):
    pid = _create(client, unique)
    response = WRITES[write](client, unique, pid, {"If-Match": tag})
    assert response.status_code == 200, (write, response.get_json())
    assert response.headers["ETag"] == 'W/"2"'
    if write == "DELETE":
        assert client.get(f"/fhir/Patient/{pid}").status_code == 410
        (issue,) = response.get_json()["issue"]  # the answer says what was deleted
        assert (issue["severity"], issue["code"]) == ("information", "informational")
        assert issue["diagnostics"] == f"Deleted Patient/{pid} (version 2)"
    else:
        assert client.get(f"/fhir/Patient/{pid}").get_json()["gender"] == "other"


def test_if_match_on_an_update_as_create_is_refused(client, unique):
    pid = f"new-{unique}"
    response = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid), headers={"If-Match": 'W/"1"'})
    assert response.status_code == 412
    assert client.get(f"/fhir/Patient/{pid}").status_code == 404


def test_if_match_after_a_delete_is_refused(client, unique):
    pid = _create(client, unique)
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    response = _put(client, unique, pid, {"If-Match": 'W/"1"'})
    assert response.status_code == 412
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410


# --- If-Match in transaction and batch entries ----------------------------------------------------

def _entry(method: str, pid: str, unique: str, if_match: str) -> dict:
    request = {"method": method, "url": f"Patient/{pid}", "ifMatch": if_match}
    if method == "PUT":
        return {"resource": patient(unique, id=pid, gender="other"), "request": request}
    if method == "PATCH":
        return {"resource": _json_patch(GENDER_OTHER), "request": request}
    return {"request": request}


def _witness(unique: str) -> dict:
    """A second entry of the same Bundle: written only if the whole transaction is."""
    return {"fullUrl": "urn:uuid:6f1d2b7e-0f6c-4c58-9a55-3f0f8f3b8a11",
            "resource": patient(unique + "w", identifier=[{"system": ID_SYSTEM, "value": unique + "w"}]),
            "request": {"method": "POST", "url": "Patient"}}


def _count(client, value: str) -> int:
    return client.get(f"/fhir/Patient?identifier={ID_SYSTEM}|{value}&_summary=count").get_json()["total"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_transaction_entry_if_match_stale_fails_the_whole_transaction(client, unique, method):
    pid = _create(client, unique)
    response = _send(client, _bundle("transaction", _witness(unique), _entry(method, pid, unique, 'W/"3"')))
    assert response.status_code == 412, response.get_json()
    assert _version(client, pid) == "1" and _count(client, unique + "w") == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_transaction_entry_if_match_current_is_written(client, unique, method):
    pid = _create(client, unique)
    response = _send(client, _bundle("transaction", _witness(unique), _entry(method, pid, unique, 'W/"1"')))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["entry"][1]["response"]["etag"] == 'W/"2"'
    assert _version(client, pid) == (410 if method == "DELETE" else "2") and _count(client, unique + "w") == 1


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_batch_entry_if_match_stale_fails_that_entry_only(client, unique, method):
    pid = _create(client, unique)
    response = _send(client, _bundle("batch", _witness(unique), _entry(method, pid, unique, 'W/"3"')))
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.get_json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1].startswith("412"), statuses
    assert _version(client, pid) == "1" and _count(client, unique + "w") == 1


# --- If-None-Exist -------------------------------------------------------------------------------

def _post(client, unique: str, criteria: str | None, via_query: bool = False):
    if via_query:
        return client.post(f"/fhir/Patient?{criteria}", json=patient(unique), content_type=FHIR_JSON)
    headers = {"If-None-Exist": criteria} if criteria else {}
    return client.post("/fhir/Patient", json=patient(unique), content_type=FHIR_JSON, headers=headers)


@pytest.mark.parametrize("via_query", [False, True], ids=["header", "query"])
def test_if_none_exist_creates_only_without_a_match(client, unique, via_query):
    criteria = f"identifier={ID_SYSTEM}|{unique}"
    first = _post(client, unique, criteria, via_query)
    assert first.status_code == 201
    again = _post(client, unique, criteria, via_query)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert _count(client, unique) == 1
    other = _post(client, unique, f"identifier={ID_SYSTEM}|{unique}-other", via_query)
    assert other.status_code == 201  # a criterion that matches nothing creates
    assert _count(client, unique) == 2


def test_if_none_exist_with_two_matches_is_refused(client, unique):
    for _ in range(2):
        assert _post(client, unique, None).status_code == 201
    response = _post(client, unique, f"identifier={ID_SYSTEM}|{unique}")
    assert response.status_code == 412
    assert _count(client, unique) == 2


def _conditional_create(unique: str, criteria: str) -> dict:
    return {"fullUrl": "urn:uuid:0b1c5c83-7e43-4a43-8d4b-1f1f7c1a2b3c", "resource": patient(unique),
            "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}}


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_entry_if_none_exist(client, unique, kind):
    criteria = f"identifier={ID_SYSTEM}|{unique}"
    first = _send(client, _bundle(kind, _conditional_create(unique, criteria))).get_json()
    assert first["entry"][0]["response"]["status"].startswith("201")
    again = _send(client, _bundle(kind, _conditional_create(unique, criteria))).get_json()
    assert again["entry"][0]["response"]["status"].startswith("200")
    assert again["entry"][0]["response"]["location"] == first["entry"][0]["response"]["location"]
    assert _count(client, unique) == 1


def test_transaction_entry_if_none_exist_with_two_matches_fails_the_transaction(client, unique):
    for _ in range(2):
        assert _post(client, unique, None).status_code == 201
    bundle = _bundle("transaction", _witness(unique), _conditional_create(unique, f"identifier={ID_SYSTEM}|{unique}"))
    response = _send(client, bundle)
    assert response.status_code == 412, response.get_json()
    assert _count(client, unique) == 2 and _count(client, unique + "w") == 0


# --- If-None-Match -------------------------------------------------------------------------------

@pytest.mark.parametrize(("tags", "status"), [
    ('W/"2"', 304), ('"2"', 304), ('W/"1", W/"2"', 304), ("*", 304),
    ('W/"1"', 200), ('W/"3"', 200), ('W/"22"', 200),
])
def test_if_none_match_on_read(client, unique, tags, status):
    pid = _create(client, unique)
    assert _put(client, unique, pid, {}).status_code == 200  # version 2
    response = client.get(f"/fhir/Patient/{pid}", headers={"If-None-Match": tags})
    assert response.status_code == status
    assert (response.get_json() or {}).get("gender") == (None if status == 304 else "other")


@pytest.mark.parametrize(("tags", "status"), [('W/"1"', 304), ('W/"2"', 200)])
def test_if_none_match_on_vread(client, unique, tags, status):
    pid = _create(client, unique)
    assert _put(client, unique, pid, {}).status_code == 200
    assert client.get(f"/fhir/Patient/{pid}/_history/1", headers={"If-None-Match": tags}).status_code == status


@pytest.mark.parametrize(("tags", "status"), [('W/"1"', "304"), ('W/"2"', "200")])
def test_if_none_match_on_a_batch_read_entry(client, unique, tags, status):
    pid = _create(client, unique)
    bundle = _bundle("batch", {"request": {"method": "GET", "url": f"Patient/{pid}", "ifNoneMatch": tags}})
    entry = _send(client, bundle).get_json()["entry"][0]
    assert entry["response"]["status"].startswith(status)
    assert ("resource" in entry) == (status == "200")
