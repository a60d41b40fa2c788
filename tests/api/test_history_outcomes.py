"""history's Bundle at its edges (R4 http §history), written from the survivors of a mutation run
(docs/testing.md, fifth pass): the self and next links, the entries' fullUrl, unknown parameters
under lenient and strict handling, ``_page`` and ``_count`` values that are not numbers — on
SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from api.conftest import patient

BASE = "http://testserver/fhir"
STRICT = {"Prefer": "handling=strict"}


def _versions(client, unique: str, count: int = 3) -> str:
    pid = client.post("/fhir/Patient", json=patient(unique)).get_json()["id"]
    for gender in ("female", "other", "unknown")[:count - 1]:
        assert client.put(f"/fhir/Patient/{pid}", json=patient(unique, id=pid, gender=gender)).status_code == 200
    return pid


def _link(bundle: dict, relation: str) -> str | None:
    return next((link["url"] for link in bundle.get("link", []) if link["relation"] == relation), None)


def test_the_links_and_entries_of_a_history_page(client, unique):
    pid = _versions(client, unique)
    response = client.get(f"/fhir/Patient/{pid}/_history?_count=1&_since=2000-01-01&_pretty=true")
    assert response.status_code == 200
    page = response.get_json()
    assert _link(page, "self") == f"{BASE}/Patient/{pid}/_history?_count=1&_since=2000-01-01&_pretty=true"
    nxt = urlsplit(_link(page, "next"))
    assert f"{nxt.scheme}://{nxt.netloc}{nxt.path}" == f"{BASE}/Patient/{pid}/_history"
    query = dict(parse_qsl(nxt.query))
    assert query.keys() == {"_count", "_since", "_page"} and query["_count"] == "1"
    assert [e["fullUrl"] for e in page["entry"]] == [f"{BASE}/Patient/{pid}"]
    year = page["entry"][0]["resource"]["meta"]["lastUpdated"][:4]  # every version was current that year
    at = client.get(f"/fhir/Patient/{pid}/_history?_count=1&_at={year}&_format=json").get_json()
    assert dict(parse_qsl(urlsplit(_link(at, "next")).query)).keys() == {"_count", "_at", "_page"}


@pytest.mark.parametrize(("url", "unknown"), [
    ("/fhir/_history?_count=1&gender=male", "gender"),
    ("/fhir/Patient/_history?_count=1&_sort=_lastUpdated&name=x", "_sort, name"),
])
def test_unknown_parameters_are_ignored_unless_handling_is_strict(client, url, unknown):
    assert client.get(url).status_code == 200
    strict = client.get(url, headers=STRICT)
    assert strict.status_code == 400
    assert strict.get_json()["issue"][0]["diagnostics"] == f"Unknown history parameter(s): {unknown}"


def test_known_parameters_under_strict_handling(client, unique):
    pid = _versions(client, unique, 1)
    url = f"/fhir/Patient/{pid}/_history?_count=5&_since=2000-01-01&_format=json&_pretty=false&_summary=false"
    response = client.get(url, headers=STRICT)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 1


@pytest.mark.parametrize(("query", "parameter"), [("_count=-1", "_count"), ("_count=lots", "_count"),
                                                  ("_page=abc", "_page"), ("_page=-3", "_page")])
def test_counts_and_pages_that_are_not_numbers_are_400(client, query, parameter):
    response = client.get(f"/fhir/_history?{query}")
    assert response.status_code == 400
    issue = response.get_json()["issue"][0]
    assert issue["expression"] == [parameter] and f"'{query.split('=')[1]}'" in issue["diagnostics"]


def test_count_is_capped_and_defaults_to_twenty(client, unique):
    for k in range(21):
        client.post("/fhir/Patient", json=patient(f"{unique}{k}"))
    assert len(client.get("/fhir/Patient/_history").get_json()["entry"]) == 20
    capped = client.get("/fhir/Patient/_history?_count=5000").get_json()
    assert 21 <= len(capped["entry"]) <= 1000


@pytest.mark.parametrize("parameter", ["_since", "_at"])
def test_a_bad_date_names_its_parameter(client, parameter):
    response = client.get(f"/fhir/_history?{parameter}=2023-13-45")
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["diagnostics"].startswith(f"Parameter '{parameter}': '2023-13-45' ")


def test_a_long_count_is_quoted_to_forty_characters(client):
    value = "x" * 60
    response = client.get(f"/fhir/_history?_count={value}")
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["diagnostics"] == (
        f"Parameter '_count': '{'x' * 40}' is not a non-negative integer")
