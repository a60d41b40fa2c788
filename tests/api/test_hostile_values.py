"""Hostile values found by a probe of the running server (issue 18): each was an unhandled 500.
Every answer here is a 4xx OperationOutcome (or, for a valid if extreme value, a search result)."""

from __future__ import annotations

import pytest


def _outcome(response) -> dict:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return body


@pytest.mark.parametrize("path", [
    "/fhir/Patient?_count=²",
    "/fhir/Patient?_count=99999999999999999999999",
    "/fhir/Patient?_offset=99999999999999999999",
    "/fhir/Patient?_page=" + "9" * 5000,
    "/fhir/Patient?_page=live-" + "9" * 5000,
    "/fhir/Patient?_page=live-²",
    "/fhir/Observation?value-quantity=1e999999999",
    "/fhir/Observation?value-quantity=1e-999999999",
    "/fhir/Observation?value-quantity=-1e400|http://unitsofmeasure.org|mm[Hg]",
    "/fhir/Patient/_history?_count=²",
    "/fhir/Patient/_history?_page=" + "9" * 5000,
    "/fhir/Patient/x/_history/²",
])
def test_number_out_of_bounds_is_400(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404), response.get_data(as_text=True)[:300]
    _outcome(response)


@pytest.mark.parametrize("value", ["le9999-12-31T23:59:59-14:00", "gt9999-12-31T23:59:59.999-14:00",
                                   "ge0001-01-01T00:00:00+14:00", "lt0001-01-01", "eb9999-12-31T23:59-12:00"])
def test_dates_at_the_edges_of_the_calendar(client, value):
    response = client.get("/fhir/Observation", query_string={"date": value})
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    assert response.get_json()["resourceType"] in ("Bundle", "OperationOutcome")


def test_deep_has_through_post_search_is_400(client):
    name = "_has:Patient:link:" * 3000 + "_id"
    response = client.post("/fhir/Patient/_search", data=f"{name}=x",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert _outcome(response)["issue"][0]["code"] == "too-costly"


def test_deep_chain_is_400(client):
    response = client.get("/fhir/Observation", query_string={"subject" + ".link" * 2000: "x"})
    assert response.status_code == 400
    _outcome(response)


@pytest.mark.parametrize("method, path", [
    ("GET", "/fhir/Patient/a%00b"), ("DELETE", "/fhir/Patient/a%00b"), ("GET", "/fhir/Patient/a%00b/_history/1"),
    ("GET", "/fhir/Patient/a%00b/_history"), ("GET", "/fhir/Patient/a%00b/Observation"),
    ("GET", "/fhir/Patient/" + "x" * 65), ("GET", "/fhir/Patient/a%20b"),
])
def test_ids_are_checked_before_sql(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert _outcome(response)["issue"][0]["code"] == "value"
    assert client.get("/fhir/metadata").status_code == 200


def test_invalid_id_in_a_transaction_entry_is_400(client):
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"request": {"method": "GET", "url": "Patient/a\u0000b"}}]}
    response = client.post("/fhir", json=bundle, content_type="application/fhir+json")
    assert response.status_code == 400
    _outcome(response)


@pytest.mark.parametrize("meta", [[None], "x", 7, True])
def test_a_meta_that_is_not_an_object_is_400(client, meta):
    response = client.post("/fhir/Patient", json={"resourceType": "Patient", "meta": meta})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    _outcome(response)
