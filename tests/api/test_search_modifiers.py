"""Search modifiers over the HTTP API, each with the resources it must not find (SQLite and
PostgreSQL).  The table-driven cases in tests/storage/search/ hold the rest of the modifiers
on the in-memory twin and both databases; the terminology modifiers (:in, :not-in, :above,
:below on tokens) are in test_ig_api.py."""

from __future__ import annotations

import pytest
from api.conftest import FHIR_JSON

LOINC = "http://loinc.org"
CARD = "urn:oid:2.16.156.10011.1.2"


def _observation(subject: dict, unique: str) -> dict:
    return {"resourceType": "Observation", "status": "final", "subject": subject,
            "code": {"coding": [{"system": LOINC, "code": "29463-7"}], "text": unique},
            "valueQuantity": {"value": 70, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}


@pytest.fixture()
def by_identifier(client, unique):
    """Two Observations whose subject is known only by identifier, and one by reference."""
    ids = {}
    for name, subject in {"card": {"identifier": {"system": CARD, "value": f"ID{unique}"}},
                          "other-system": {"identifier": {"system": "urn:example:mrn", "value": f"ID{unique}"}},
                          "literal": {"reference": f"Patient/p-{unique}"}}.items():
        response = client.post("/fhir/Observation", json=_observation(subject, unique), content_type=FHIR_JSON)
        assert response.status_code == 201, response.get_json()
        ids[response.get_json()["id"]] = name
    return ids


def _found(client, ids: dict, query: str) -> set[str]:
    bundle = client.get(f"/fhir/Observation?{query}&_count=50").get_json()
    assert bundle["resourceType"] == "Bundle", bundle
    return {ids[e["resource"]["id"]] for e in bundle.get("entry", []) if e["resource"]["id"] in ids}


@pytest.mark.parametrize(("query", "expected"), [
    ("subject:identifier={card}|ID{u}", {"card"}),
    ("subject:identifier=ID{u}", {"card", "other-system"}),
    ("subject:identifier=urn:example:mrn|ID{u}", {"other-system"}),
    ("subject:identifier={card}|id{u}", set()),  # identifier values are case-sensitive
    ("subject:identifier={card}|ID{u}0", set()),
    ("subject:identifier={card}|I", set()),
    ("subject:identifier=urn:example:none|ID{u}", set()),
    ("subject=Patient/p-{u}", {"literal"}),
    ("subject=Patient/ID{u}", set()),  # an identifier is not an id
])
def test_reference_identifier_modifier(client, unique, by_identifier, query, expected):
    query = query.format(card=CARD, u=unique)
    assert _found(client, by_identifier, f"code:text={unique}&{query}") == expected, query


@pytest.mark.parametrize(("query", "expected"), [
    ("family:exact=Müller", {"exact"}),
    ("family:exact=müller", set()),
    ("family:exact=Mülle", set()),
    ("family:exact=Muller", set()),
    ("family=mull", {"exact"}),
    ("family:contains=LLER", {"exact"}),
    ("family:contains=relL", set()),
    ("gender:missing=true", {"no-gender"}),
    ("gender:missing=false", {"exact"}),
    ("gender:not=female", {"exact", "no-gender"}),
    ("gender:not=male", {"no-gender"}),
])
def test_string_and_token_modifiers_over_http(client, unique, query, expected):
    ids = {}
    for name, extra in {"exact": {"gender": "male", "name": [{"family": "Müller", "given": ["José"]}]},
                        "no-gender": {"name": [{"family": "王", "given": ["五"]}]}}.items():
        body = {"resourceType": "Patient", "identifier": [{"system": CARD, "value": f"{name}-{unique}"}],
                "meta": {"tag": [{"system": "urn:jiayi:test", "code": unique}]}, **extra}
        response = client.post("/fhir/Patient", json=body, content_type=FHIR_JSON)
        assert response.status_code == 201, response.get_json()
        ids[response.get_json()["id"]] = name
    bundle = client.get(f"/fhir/Patient?_tag=urn:jiayi:test|{unique}&{query}").get_json()
    assert {ids[e["resource"]["id"]] for e in bundle.get("entry", [])} == expected, query


@pytest.mark.parametrize("query", ["name:below=x", "gender:contains=m", "birthdate:exact=1950", "name:nonsense=x"])
def test_a_modifier_the_type_does_not_have_is_refused(client, query):
    response = client.get(f"/fhir/Patient?{query}", headers={"Prefer": "handling=strict"})
    assert response.status_code == 400 and response.get_json()["resourceType"] == "OperationOutcome"
