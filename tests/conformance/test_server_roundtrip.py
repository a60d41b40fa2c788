"""Conformance evidence: every official R4 resource survives the server (R4 http §update, §read;
R4 §2.6 XML) — stored with PUT under its own id (POST when it has none), read back as JSON
and as XML, and equal to what was sent apart from ``meta.versionId`` and ``meta.lastUpdated``.

Through the Flask test client, on SQLite and on PostgreSQL.  One test per source file, looping
inside; each prints ``count, accepted, round-tripped`` and the first differences.  The
official resources that are not valid R4 (``KNOWN_INVALID`` and ``INVALID_ON_WRITE`` of
``test_official_resources``) must be refused with 400 instead.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from helpers import shared_path

from conformance.realistic_instances import realistic_instances
from conformance.test_official_resources import INVALID_ON_WRITE, KNOWN_INVALID
from fhir_server.app import create_app
from fhir_server.formats.xml import xml_to_resource

SOURCES = ["examples", "profiles-resources.json", "profiles-types.json", "valuesets.json", "conceptmaps.json",
           "search-parameters.json", "extension-definitions.json", "realistic-instances"]
FHIR_JSON = "application/fhir+json"
SERVER_ASSIGNED = ("versionId", "lastUpdated")
# elements R4 leaves to the server: a Subscription's status and error (R4 subscription.html: the
# server moves a new subscription from requested to active after checking its channel)
SERVER_MANAGED = {"Subscription": ("status", "error")}


@pytest.fixture(scope="module")
def client(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": "http://testserver/fhir"})
    yield app.test_client()
    app.extensions["jiayi.database"].dispose()


def _load(source: str) -> list[dict]:
    if source == "realistic-instances":
        shared_path("fhir-r4", "examples")
        return list(realistic_instances().values())
    if source == "examples":
        return [json.loads(p.read_bytes()) for p in sorted(shared_path("fhir-r4", "examples").glob("*.json"))]
    return [entry["resource"] for entry in json.loads(shared_path("fhir-r4", source).read_bytes())["entry"]]


def _comparable(resource: dict, without_id: bool = False) -> dict:
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in SERVER_ASSIGNED}
    managed = SERVER_MANAGED.get(resource.get("resourceType", ""), ())
    rest = {k: v for k, v in resource.items()
            if k != "meta" and k not in managed and not (without_id and k == "id")}
    return {**rest, "meta": meta} if meta else rest


def _difference(sent: dict, got: dict, without_id: bool) -> str | None:
    if _comparable(sent, without_id) == _comparable(got, without_id):
        return None
    sent, got = _comparable(sent, without_id), _comparable(got, without_id)
    keys = sorted(k for k in sent.keys() | got.keys() if sent.get(k) != got.get(k))
    sent_values, got_values = str({k: sent.get(k) for k in keys})[:300], str({k: got.get(k) for k in keys})[:300]
    return f"differs in {keys}: sent {sent_values} got {got_values}"


def _round_trip(client, resource: dict) -> tuple[int, str | None]:
    """(status of the write, the first problem or None)."""
    body = json.dumps(resource, ensure_ascii=False).encode("utf-8")
    if resource.get("id"):
        stored = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", data=body, content_type=FHIR_JSON)
    else:
        stored = client.post(f"/fhir/{resource['resourceType']}", data=body, content_type=FHIR_JSON)
    if stored.status_code not in (200, 201):
        return stored.status_code, str(stored.get_json())[:600]
    location = f"/fhir/{resource['resourceType']}/{stored.get_json()['id']}"
    as_json = client.get(location)
    as_xml = client.get(location, query_string={"_format": "xml"})
    problem = _difference(resource, as_json.get_json(), "id" not in resource)
    if problem is None:
        problem = _difference(resource, xml_to_resource(as_xml.data), "id" not in resource)
        problem = problem and "XML " + problem
    return stored.status_code, problem


@pytest.mark.parametrize("source", SOURCES)
def test_every_official_resource_round_trips_through_the_server(client, source):
    resources, started = _load(source), time.monotonic()
    tally, failures = Counter(), {}
    for resource in resources:
        key = f"{resource['resourceType']}/{resource.get('id')}"
        status, problem = _round_trip(client, resource)
        if key in KNOWN_INVALID or key in INVALID_ON_WRITE:
            tally["refused"] += status == 400
            if status != 400:
                failures[key] = f"known-invalid resource answered {status}, expected 400"
            continue
        tally["accepted"] += status in (200, 201)
        tally["round-tripped"] += problem is None
        if problem:
            failures[key] = f"{status}: {problem}"
    invalid = KNOWN_INVALID.keys() | INVALID_ON_WRITE.keys()
    valid = len(resources) - sum(1 for r in resources if f"{r['resourceType']}/{r.get('id')}" in invalid)
    print(f"\n{source}: {len(resources)} resources, {valid} valid, {tally['accepted']} accepted, "
          f"{tally['round-tripped']} round-tripped, {tally['refused']} known-invalid refused with 400 "
          f"({time.monotonic() - started:.1f} s)")
    for key, problem in list(failures.items())[:20]:
        print(f"  {key}: {problem}")
    assert failures == {}
    assert tally["accepted"] == tally["round-tripped"] == valid
