"""Bulk export under access control (SPEC §6, issue 20): a token exports what it may search —
its residents' records for a user/ or patient/ token, everything for a system/ token — and the
status URL and files answer only to the token's client."""

from __future__ import annotations

import pytest
from auth_support import SECURED_BASE, TestIssuer, built_access_world, secured_app
from bulk_support import KICKOFF, download, run_jobs, since_now, status_path


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    return TestIssuer(tmp_path_factory.mktemp("idp"), SECURED_BASE)


@pytest.fixture(scope="module")
def app(database_url, issuer, tmp_path_factory):
    app = secured_app(database_url, issuer, EXPORT_DIR=str(tmp_path_factory.mktemp("exports")),
                      EXPORT_JOBS_PER_CLIENT=50)
    yield app
    app.extensions["jiayi.database"].dispose()


@pytest.fixture(scope="module")
def since():
    return since_now()


@pytest.fixture(scope="module")
def world(app, issuer, since):
    return built_access_world(app, issuer)


def _headers(issuer, world, who: str) -> dict:
    scope, claims = world.principals()[who]
    return {"Authorization": f"Bearer {issuer.token(scope, **claims)}"}


def _export(app, issuer, world, who: str, url: str) -> tuple[dict, dict]:
    client, auth = app.test_client(), _headers(issuer, world, who)
    response = client.get(url, headers={**KICKOFF, **auth})
    assert response.status_code == 202, response.get_json()
    run_jobs(app)
    status = client.get(status_path(response), headers=auth)
    assert status.status_code == 200
    return status.get_json(), download(client, status.get_json(), auth)


@pytest.mark.parametrize("who", ["doctor A", "resident", "public health", "system"])
def test_each_token_exports_only_what_it_may_search(app, issuer, world, since, who):
    manifest, found = _export(app, issuer, world, who, f"/fhir/Patient/$export?_type=Patient,Observation"
                                                       f"&_since={since}")
    assert manifest["requiresAccessToken"] is True
    wanted = world.sees()[who]
    assert {p["id"] for p in found.get("Patient", [])} == wanted
    subjects = {o["subject"]["reference"].split("/")[1] for o in found.get("Observation", [])}
    assert subjects == wanted


def test_system_level_export_of_a_user_token_is_its_reach(app, issuer, world, since):
    _, found = _export(app, issuer, world, "doctor B", f"/fhir/$export?_since={since}")
    assert {p["id"] for p in found["Patient"]} == world.sees()["doctor B"]
    client, auth = app.test_client(), _headers(issuer, world, "doctor B")
    for res_type in ("Observation", "Contract", "Encounter"):  # what a search of the same token finds
        bundle = client.get(f"/fhir/{res_type}?_lastUpdated=gt{since}&_count=500", headers=auth).get_json()
        assert {e["resource"]["id"] for e in bundle.get("entry", [])} == {r["id"] for r in found.get(res_type, [])}


def test_status_and_files_answer_only_to_the_same_client(app, issuer, world, since):
    client = app.test_client()
    mine = _headers(issuer, world, "doctor A")
    response = client.get(f"/fhir/Patient/$export?_type=Patient&_since={since}", headers={**KICKOFF, **mine})
    run_jobs(app)
    path = status_path(response)
    assert client.get(path).status_code == 401  # no token
    assert client.get(path, headers={"Authorization": "Bearer x"}).status_code == 401
    manifest = client.get(path, headers=mine).get_json()
    url = manifest["output"][0]["url"]
    file_path = url[url.index("/fhir/"):]
    assert client.get(file_path).status_code == 401
    other = {"Authorization": f"Bearer {issuer.token('system/*.rs', sub='someone-else', client_id='other')}"}
    assert client.get(path, headers=other).status_code == 404
    assert client.get(file_path, headers=other).status_code == 404
    assert client.delete(path, headers=other).status_code == 404


def test_a_type_the_token_may_not_search_is_403(app, issuer, world):
    client = app.test_client()
    token = {"Authorization": f"Bearer {issuer.token('system/Patient.rs', sub='narrow')}"}
    response = client.get("/fhir/$export?_type=Patient,Observation", headers={**KICKOFF, **token})
    assert response.status_code == 403
    nothing = {"Authorization": f"Bearer {issuer.token('system/Patient.c', sub='writer')}"}
    assert client.get("/fhir/$export", headers={**KICKOFF, **nothing}).status_code == 403


def test_a_group_out_of_reach_is_403(app, issuer, world):
    client = app.test_client()
    admin = issuer.headers("system/*.cruds")
    group = {"resourceType": "Group", "type": "person", "actual": True,
             "member": [{"entity": {"reference": f"Patient/{world.b1}"}}]}
    group_id = client.post("/fhir/Group", json=group, headers=admin).get_json()["id"]
    response = client.get(f"/fhir/Group/{group_id}/$export", headers={**KICKOFF, **_headers(issuer, world, "doctor A")})
    assert response.status_code == 403
