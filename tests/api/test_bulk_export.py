"""Bulk Data export through the HTTP API (Bulk Data IG 2.0.0; issue 20): every status code of the
kick-off, status and file URLs, and every kick-off parameter, on SQLite and PostgreSQL.  The
jobs run in the test process (``run_jobs``: what a worker does)."""

from __future__ import annotations

import gzip
import time
import uuid

import pytest
from bulk_support import KICKOFF, download, fetch, run_jobs, since_now, status_path

from fhir_server.app import create_app
from fhir_server.bulk.jobs import JobStore
from fhir_server.core import jsonio


@pytest.fixture(scope="module")
def app(database_url, tmp_path_factory):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir",
                      "EXPORT_DIR": str(tmp_path_factory.mktemp("exports")), "EXPORT_FILE_BYTES": 2000,
                      "EXPORT_PAGE": 3, "EXPORT_JOBS_PER_CLIENT": 50})
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def world(client):
    """Since a moment, three residents (two women) and an Observation each."""
    since, tag = since_now(), uuid.uuid4().hex[:10]
    patients = []
    for n, gender in enumerate(["female", "female", "male"]):
        body = {"resourceType": "Patient", "gender": gender,
                "identifier": [{"system": "urn:oid:2.16.156.10011.1.2", "value": f"{tag}{n}"}]}
        patients.append(client.post("/fhir/Patient", json=body).get_json()["id"])
        observation = {"resourceType": "Observation", "status": "final", "code": {"text": f"weight {tag}"},
                       "subject": {"reference": f"Patient/{patients[-1]}"}}
        assert client.post("/fhir/Observation", json=observation).status_code == 201
    return {"since": since, "patients": patients, "tag": tag}


def export(client, app, url: str, **kwargs) -> dict:
    """Kick off, run, and return the manifest."""
    response = client.open(url, headers={**KICKOFF, **kwargs.pop("headers", {})}, **kwargs)
    assert response.status_code == 202, response.get_json()
    run_jobs(app)
    status = client.get(status_path(response))
    assert status.status_code == 200
    assert status.headers["Content-Type"].startswith("application/json")
    return status.get_json()


def test_system_export_writes_each_type_and_the_manifest(client, app, world):
    manifest = export(client, app, f"/fhir/$export?_since={world['since']}")
    assert manifest["requiresAccessToken"] is False
    assert manifest["request"].startswith("http://testserver/fhir/$export?_since=")
    assert manifest["transactionTime"].endswith("Z") and manifest["error"] == []
    found = download(client, manifest)
    assert sorted(p["id"] for p in found["Patient"]) == sorted(world["patients"])
    assert len(found["Observation"]) == 3


def test_kickoff_answers_202_with_the_status_url_and_the_job_is_202_until_done(client, app, world):
    response = client.get(f"/fhir/$export?_since={world['since']}", headers=KICKOFF)
    assert response.status_code == 202
    assert "/fhir/$export-status/" in response.headers["Content-Location"]
    waiting = client.get(status_path(response))
    assert waiting.status_code == 202
    assert waiting.headers["X-Progress"] == "queued" and waiting.headers["Retry-After"].isdigit()
    run_jobs(app)
    assert client.get(status_path(response)).status_code == 200


@pytest.mark.parametrize("headers, code", [
    ({"Accept": "application/fhir+json"}, "required"),  # no Prefer
    ({"Prefer": "respond-async"}, "required"),  # no Accept
    ({"Accept": "application/fhir+xml", "Prefer": "respond-async"}, "not-supported"),
])
def test_kickoff_headers_are_required(client, headers, code):
    response = client.get("/fhir/$export", headers={"Accept": "", **headers} if "Accept" not in headers else headers)
    assert response.status_code == 400
    assert b"OperationOutcome" in response.data and code.encode() in response.data  # XML when Accept asks for it


@pytest.mark.parametrize("query", ["_outputFormat=text/csv", "_type=NoSuchType", "_since=2020-01-01",
                                   "_since=yesterday", "_since=2999-01-01T00:00:00Z", "_typeFilter=Patient",
                                   "_typeFilter=Patient?nosuchparam=1", "_typeFilter=NoSuch?x=1",
                                   "patient=Patient/1"])
def test_bad_parameters_are_400(client, query):
    response = client.get(f"/fhir/Patient/$export?{query}", headers=KICKOFF)
    assert response.status_code == 400, query
    assert response.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("output_format", ["application/fhir+ndjson", "application/ndjson", "ndjson"])
def test_output_formats(client, app, world, output_format):
    manifest = export(client, app, "/fhir/$export", query_string={
        "_type": "Patient", "_since": world["since"], "_outputFormat": output_format})
    assert [o["count"] for o in manifest["output"]] == [3]


def test_type_and_type_filter(client, app, world):
    manifest = export(client, app, f"/fhir/$export?_type=Patient,Observation&_since={world['since']}"
                      "&_typeFilter=Patient%3Fgender%3Dfemale")
    found = download(client, manifest)
    assert {p["gender"] for p in found["Patient"]} == {"female"} and len(found["Patient"]) == 2
    assert len(found["Observation"]) == 3  # no filter for Observation: all of them


def test_type_filters_of_one_type_are_ored(client, app, world):
    first, last = world["patients"][0], world["patients"][2]
    manifest = export(client, app, "/fhir/$export", query_string=[
        ("_type", "Patient"), ("_since", world["since"]),
        ("_typeFilter", f"Patient?_id={first}"), ("_typeFilter", f"Patient?_id={last}")])
    assert sorted(p["id"] for p in download(client, manifest)["Patient"]) == sorted([first, last])


def test_since_leaves_out_what_changed_before(client, app, world):
    time.sleep(0.05)  # since_now() reaches 5 ms back: the world's last writes must be older than that
    later = since_now()
    first = world["patients"][0]
    client.put(f"/fhir/Patient/{first}", json={"resourceType": "Patient", "id": first, "gender": "other"})
    manifest = export(client, app, f"/fhir/$export?_since={later}")
    assert [p["id"] for p in download(client, manifest)["Patient"]] == [first]


def test_patient_parameter_in_a_post_parameters_body(client, app, world):
    chosen = world["patients"][1]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "_since", "valueInstant": world["since"]},
        {"name": "patient", "valueReference": {"reference": f"Patient/{chosen}"}},
        {"name": "includeAssociatedData", "valueCode": "LatestProvenanceResources"}]}
    manifest = export(client, app, "/fhir/Patient/$export", method="POST", json=body)
    found = download(client, manifest)
    assert [p["id"] for p in found["Patient"]] == [chosen]
    assert [o["subject"]["reference"] for o in found["Observation"]] == [f"Patient/{chosen}"]
    errors = manifest["error"]
    assert errors and errors[0]["type"] == "OperationOutcome"
    outcome = jsonio.loads(fetch(client, errors[0]["url"])[2].splitlines()[0])
    assert "LatestProvenanceResources" in outcome["issue"][0]["diagnostics"]


def test_group_export_is_its_members(client, app, world):
    members = world["patients"][:2]
    group = {"resourceType": "Group", "type": "person", "actual": True,
             "member": [{"entity": {"reference": f"Patient/{m}"}} for m in members]}
    group_id = client.post("/fhir/Group", json=group).get_json()["id"]
    manifest = export(client, app, f"/fhir/Group/{group_id}/$export?_since={world['since']}")
    found = download(client, manifest)
    assert sorted(p["id"] for p in found["Patient"]) == sorted(members)
    assert len(found["Observation"]) == 2
    assert [g["id"] for g in found["Group"]] == [group_id]  # Group.member: in its members' compartment


def test_unknown_group_is_404(client):
    assert client.get("/fhir/Group/no-such-group/$export", headers=KICKOFF).status_code == 404


def test_files_are_split_at_the_size_limit_and_served_as_ndjson(client, app, world):
    for n in range(12):
        client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"text": f"{'长' * 60}{n}"}]})
    manifest = export(client, app, f"/fhir/$export?_type=Patient&_since={world['since']}")
    assert len(manifest["output"]) > 1  # EXPORT_FILE_BYTES=2000
    assert sum(o["count"] for o in manifest["output"]) == 15
    url = manifest["output"][0]["url"]
    _, headers, plain = fetch(client, url)
    assert headers["Content-Type"].startswith("application/fhir+ndjson")
    assert len(plain) <= 2000 and plain.endswith(b"\n")
    _, zipped_headers, zipped = fetch(client, url, {"Accept-Encoding": "gzip"})
    assert zipped_headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped) == plain


def test_delete_cancels_and_the_job_is_then_404(client, app, world):
    response = client.get(f"/fhir/$export?_since={world['since']}", headers=KICKOFF)
    assert client.delete(status_path(response)).status_code == 202
    assert client.get(status_path(response)).status_code == 404
    run_jobs(app)  # a cancelled job is never run
    assert client.get(status_path(response)).status_code == 404
    assert client.delete(status_path(response)).status_code == 404


def test_unknown_job_and_unknown_file_are_404(client, app, world):
    assert client.get(f"/fhir/$export-status/{uuid.uuid4().hex}").status_code == 404
    manifest = export(client, app, f"/fhir/$export?_type=Patient&_since={world['since']}")
    url = manifest["output"][0]["url"]
    base = url[url.index("/fhir/"):url.rindex("/")]
    assert client.get(f"{base}/Nothing-1.ndjson").status_code == 404
    assert client.get(f"{base}/..%2F..%2Fsecret").status_code == 404


def test_failed_job_is_500_with_an_outcome(client, app, world, monkeypatch):
    response = client.get(f"/fhir/$export?_type=Patient&_since={world['since']}", headers=KICKOFF)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("fhir_server.bulk.selection.page", broken)
    run_jobs(app)
    failed = client.get(status_path(response))
    assert failed.status_code == 500
    assert failed.get_json()["issue"][0]["code"] == "exception"
    assert "disk on fire" not in failed.get_data(as_text=True)  # the log has it, not the client


def test_expired_job_is_404(client, app, world):
    response = client.get(f"/fhir/$export?_type=Patient&_since={world['since']}", headers=KICKOFF)
    run_jobs(app)
    job_id = status_path(response).rsplit("/", 1)[1]
    store: JobStore = app.extensions["jiayi.router"].operations.find("export", None, None).handler.__self__.store
    with store.database.session(write=True) as session:
        from sqlalchemy import text

        session.execute(text("UPDATE bulk_export_job SET expires = created WHERE id = :id"), {"id": job_id})
    assert client.get(status_path(response)).status_code == 404


def test_too_many_exports_of_one_client_is_429(database_url, tmp_path):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "EXPORT_DIR": str(tmp_path),
                      "EXPORT_JOBS_PER_CLIENT": 1})
    client = app.test_client()
    try:
        first = client.get("/fhir/$export?_type=Patient", headers=KICKOFF)
        second = client.get("/fhir/$export?_type=Patient", headers=KICKOFF)
        assert second.status_code == 429 and second.headers["Retry-After"]
        assert second.get_json()["issue"][0]["code"] == "throttled"
        client.delete(status_path(first))
        third = client.get("/fhir/$export?_type=Patient", headers=KICKOFF)
        assert third.status_code == 202
        client.delete(status_path(third))
    finally:
        app.extensions["jiayi.database"].dispose()


def test_strict_handling_refuses_unknown_parameters(client):
    lenient = client.get("/fhir/$export?_type=Patient&_elements=id", headers=KICKOFF)
    assert lenient.status_code == 202
    client.delete(status_path(lenient))
    strict = client.get("/fhir/$export?_elements=id", headers={**KICKOFF, "Prefer": "respond-async, handling=strict"})
    assert strict.status_code == 400


def test_capability_statement_lists_export(client):
    operations = client.get("/fhir/metadata").get_json()["rest"][0].get("operation", [])
    assert any(o["name"] == "export" for o in operations)


KEY_POPULATION = "https://jiayi.dev/fhir/CodeSystem/key-population"


def _with_key_population(code: str) -> dict:
    return {"resourceType": "Patient", "extension": [
        {"url": "https://jiayi.dev/fhir/StructureDefinition/jiayi-key-population",
         "valueCodeableConcept": {"coding": [{"system": KEY_POPULATION, "code": code}]}}]}


def test_a_key_population_group_exports_that_cohort(client, app, world):
    elderly = [client.post("/fhir/Patient", json=_with_key_population("elderly-65")).get_json()["id"] for _ in range(2)]
    client.post("/fhir/Patient", json=_with_key_population("diabetes-t2"))
    group = {"resourceType": "Group", "type": "person", "actual": False, "characteristic": [
        {"code": {"text": "key population"}, "exclude": False,
         "valueCodeableConcept": {"coding": [{"system": KEY_POPULATION, "code": "elderly-65"}]}}]}
    group_id = client.post("/fhir/Group", json=group).get_json()["id"]
    manifest = export(client, app, f"/fhir/Group/{group_id}/$export?_type=Patient&_since={world['since']}")
    assert sorted(p["id"] for p in download(client, manifest)["Patient"]) == sorted(elderly)


def test_a_group_characteristic_the_export_does_not_understand_is_400(client):
    group = {"resourceType": "Group", "type": "person", "actual": False, "characteristic": [
        {"code": {"text": "age"}, "exclude": False, "valueBoolean": True}]}
    group_id = client.post("/fhir/Group", json=group).get_json()["id"]
    response = client.get(f"/fhir/Group/{group_id}/$export", headers=KICKOFF)
    assert response.status_code == 400 and "characteristic" in response.get_json()["issue"][0]["expression"][0]
