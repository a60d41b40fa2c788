"""history at instance, type and system level (R4 http §history)."""

from __future__ import annotations

import time

from api.conftest import patient


def _create(client, unique):
    return client.post("/fhir/Patient", json=patient(unique)).get_json()["id"]


def test_instance_history_newest_first_with_paging(client, unique):
    pid = _create(client, unique)
    for gender in ("female", "other", "unknown"):
        assert client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender=gender)).status_code == 200
    page = client.get(f"/fhir/Patient/{pid}/_history?_count=2").get_json()
    assert page["type"] == "history" and page["total"] == 4
    assert [e["resource"]["meta"]["versionId"] for e in page["entry"]] == ["4", "3"]
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    rest = client.get(next_url.replace("http://testserver", "")).get_json()
    assert [e["resource"]["meta"]["versionId"] for e in rest["entry"]] == ["2", "1"]
    assert all(link["relation"] != "next" for link in rest["link"])


def test_since_and_at(client, unique):
    pid = _create(client, unique)
    first = client.get(f"/fhir/Patient/{pid}").get_json()["meta"]["lastUpdated"]
    time.sleep(0.01)
    client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender="female"))
    second = client.get(f"/fhir/Patient/{pid}").get_json()["meta"]["lastUpdated"]
    since = client.get(f"/fhir/Patient/{pid}/_history", query_string={"_since": second}).get_json()
    assert [e["resource"]["meta"]["versionId"] for e in since["entry"]] == ["2"]
    at = client.get(f"/fhir/Patient/{pid}/_history", query_string={"_at": first}).get_json()
    assert [e["resource"]["meta"]["versionId"] for e in at["entry"]] == ["1"]


def test_type_and_system_history(client, unique):
    pid = _create(client, unique)
    typed = client.get("/fhir/Patient/_history?_count=5").get_json()
    assert typed["total"] >= 1 and all(e["resource"]["resourceType"] == "Patient" for e in typed["entry"])
    system = client.get("/fhir/_history?_count=1").get_json()
    assert system["entry"][0]["fullUrl"].endswith(f"/Patient/{pid}")


def test_bad_since_is_400(client):
    response = client.get("/fhir/_history?_since=2023-13-45")
    assert response.status_code == 400
    assert "_since" in response.get_json()["issue"][0]["diagnostics"]
