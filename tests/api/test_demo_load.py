"""The demo district loads through the transaction interaction on both databases, and loading
it again changes nothing (PUT with the same content writes no new version)."""

from __future__ import annotations

from datetime import date

from fhir_server.serving import DEMO_MARKER, load_demo


def test_demo_district_loads_and_reloads_idempotently(database_url, client):
    counts = load_demo(database_url, residents=12, as_of=date(2026, 11, 23))
    assert counts["Patient"] == 12 and counts["Organization"] > 3
    marker = client.get(f"/fhir/{DEMO_MARKER[0]}/{DEMO_MARKER[1]}")
    assert marker.status_code == 200
    before = client.get("/fhir/_history?_count=0").get_json()["total"]
    load_demo(database_url, residents=12, as_of=date(2026, 11, 23))
    assert client.get("/fhir/_history?_count=0").get_json()["total"] == before
    assert load_demo(database_url, residents=12, skip_if_loaded=True) == {}
