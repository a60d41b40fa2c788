"""read, vread, create, update, delete with the headers of R4 http §versioning and §concurrency."""

from __future__ import annotations

from api.conftest import FHIR_JSON, patient


def create(client, resource: dict, **headers):
    return client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers,
                       content_type=FHIR_JSON)


def test_create_assigns_id_version_and_headers(client, unique):
    response = create(client, patient(unique, id="client-id-ignored"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] != "client-id-ignored"
    assert body["meta"]["versionId"] == "1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert response.headers["Last-Modified"].endswith("GMT")
    assert response.headers["Content-Type"].startswith("application/fhir+json")


def test_read_and_vread(client, unique):
    pid = create(client, patient(unique)).get_json()["id"]
    updated = patient(unique, id=pid, gender="female")
    assert client.put(f"/fhir/Patient/{pid}", json=updated).status_code == 200
    current = client.get(f"/fhir/Patient/{pid}")
    assert current.get_json()["gender"] == "female" and current.headers["ETag"] == 'W/"2"'
    first = client.get(f"/fhir/Patient/{pid}/_history/1")
    assert first.status_code == 200 and first.get_json()["gender"] == "male"
    assert client.get(f"/fhir/Patient/{pid}/_history/9").status_code == 404
    assert client.get("/fhir/Patient/does-not-exist").status_code == 404


def test_update_as_create_then_unchanged_update_keeps_version(client, unique):
    pid = f"p-{unique}"
    first = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid))
    assert first.status_code == 201 and first.headers["ETag"] == 'W/"1"'
    again = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid))
    assert again.status_code == 200 and again.headers["ETag"] == 'W/"1"'


def test_update_id_mismatch_and_missing_id(client, unique):
    pid = create(client, patient(unique)).get_json()["id"]
    wrong = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id="other"))
    assert wrong.status_code == 400
    missing = client.put(f"/fhir/Patient/{pid}", json=patient(unique))
    assert missing.status_code == 400
    assert missing.get_json()["resourceType"] == "OperationOutcome"


def test_if_match(client, unique):
    pid = create(client, patient(unique)).get_json()["id"]
    stale = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other"),
                       headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    fresh = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="other"),
                       headers={"If-Match": 'W/"1"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == 'W/"2"'


def test_conditional_read_304(client, unique):
    response = create(client, patient(unique))
    pid = response.get_json()["id"]
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-None-Match": 'W/"0"'}).status_code == 200
    since = response.headers["Last-Modified"]
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-Modified-Since": since}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(f"/fhir/Patient/{pid}", headers={"If-Modified-Since": old}).status_code == 200


def test_delete_is_soft_and_keeps_history(client, unique):
    pid = create(client, patient(unique)).get_json()["id"]
    deleted = client.delete(f"/fhir/Patient/{pid}")
    assert deleted.status_code == 200 and deleted.headers["ETag"] == 'W/"2"'
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410
    assert client.get(f"/fhir/Patient/{pid}/_history/1").status_code == 200
    assert client.get(f"/fhir/Patient/{pid}/_history/2").status_code == 410
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 204
    history = client.get(f"/fhir/Patient/{pid}/_history").get_json()
    assert history["total"] == 2
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    revived = client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid))
    assert revived.status_code == 201 and revived.headers["ETag"] == 'W/"3"'


def test_prefer_return(client, unique):
    minimal = create(client, patient(unique), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.data == b"" and minimal.headers["Location"]
    outcome = create(client, patient(unique), Prefer="return=OperationOutcome")
    assert outcome.get_json()["resourceType"] == "OperationOutcome"


def test_unknown_type_is_404(client):
    response = client.get("/fhir/Patientt/1")
    assert response.status_code == 404
    assert response.get_json()["issue"][0]["code"] == "not-supported"
