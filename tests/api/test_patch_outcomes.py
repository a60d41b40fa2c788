"""What a PATCH answers when the patched resource is not acceptable, or unchanged (R4 http
§patch), on SQLite and PostgreSQL: nothing is written unless the result is a valid resource
of the same type and id."""

from __future__ import annotations

import json

import pytest
from api.conftest import FHIR_JSON, patient

JSON_PATCH = "application/json-patch+json"


def _patch(client, pid: str, ops: list[dict]):
    return client.patch(f"/fhir/Patient/{pid}", data=json.dumps(ops), content_type=JSON_PATCH)


@pytest.mark.parametrize(("ops", "status", "code"), [
    ([{"op": "replace", "path": "/id", "value": "another"}], 422, "invalid"),
    ([{"op": "replace", "path": "/resourceType", "value": "Practitioner"}], 422, "invalid"),
    ([{"op": "replace", "path": "/gender", "value": "bogus"}], 422, None),
    ([{"op": "add", "path": "/nickname", "value": "x"}], 422, None),
], ids=["id", "resourceType", "invalid code", "unknown element"])
def test_a_patch_with_an_unacceptable_result_writes_nothing(client, unique, ops, status, code):
    pid = client.post("/fhir/Patient", json=patient(unique), content_type=FHIR_JSON).get_json()["id"]
    response = _patch(client, pid, ops)
    assert response.status_code == status, response.get_json()
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"]
    if code:
        assert outcome["issue"][0]["code"] == code
        assert outcome["issue"][0]["diagnostics"] == "A patch may not change the resourceType or id"
    current = client.get(f"/fhir/Patient/{pid}")
    assert current.headers["ETag"] == 'W/"1"' and current.get_json()["gender"] == "male"


def test_a_patch_that_changes_nothing_keeps_the_version(client, unique):
    pid = client.post("/fhir/Patient", json=patient(unique), content_type=FHIR_JSON).get_json()["id"]
    response = _patch(client, pid, [{"op": "replace", "path": "/gender", "value": "male"}])
    assert response.status_code == 200 and response.headers["ETag"] == 'W/"1"'
    assert response.get_json()["id"] == pid
    changed = _patch(client, pid, [{"op": "replace", "path": "/gender", "value": "female"}])
    assert changed.status_code == 200 and changed.headers["ETag"] == 'W/"2"'
    history = client.get(f"/fhir/Patient/{pid}/_history").get_json()
    assert history["total"] == 2 and history["entry"][0]["request"]["method"] == "PATCH"
