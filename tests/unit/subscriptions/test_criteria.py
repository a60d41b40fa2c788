"""Subscription.criteria: parsed by the search parser, matched against one written resource."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import Unprocessable
from fhir_server.search import base_registry
from fhir_server.subscriptions.criteria import matches, parse_criteria

REGISTRY = base_registry()


def task(owner: str = "Organization/h1", status: str = "requested", **extra) -> dict:
    return {"resourceType": "Task", "id": "t1", "status": status, "intent": "order",
            "owner": {"reference": owner}, **extra}


def match(criteria: str, resource: dict) -> bool:
    parsed = parse_criteria(criteria, REGISTRY)
    assert parsed.local
    return matches(None, parsed, resource["id"], resource, REGISTRY)


@pytest.mark.parametrize(("criteria", "expected"), [
    ("Task", True),
    ("Task?owner=Organization/h1", True),
    ("Task?owner=Organization/h2", False),
    ("Task?owner=Organization/h1&status=requested", True),
    ("Task?owner=Organization/h1&status=accepted", False),
    ("Task?status=accepted,requested", True),
    ("Task?status:not=requested", False),
    ("Task?owner:missing=false", True),
    ("Task?requester:missing=true", True),
    ("Task?_id=t1", True),
])
def test_task_criteria(criteria, expected):
    assert match(criteria, task()) is expected


def test_string_date_and_token_system_criteria():
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Zhang", "given": ["San"]}],
               "birthDate": "1950-03-04",
               "identifier": [{"system": "urn:oid:2.16.156.10011.1.2", "value": "123"}]}
    assert match("Patient?name=zha", patient)
    assert match("Patient?birthdate=lt1960", patient)
    assert not match("Patient?birthdate=ge1960", patient)
    assert match("Patient?identifier=urn:oid:2.16.156.10011.1.2|123", patient)
    assert not match("Patient?identifier=urn:oid:2.16.156.10011.1.2|124", patient)


def test_chains_are_left_to_sql():
    parsed = parse_criteria("Task?owner.name=People", REGISTRY)
    assert not parsed.local


@pytest.mark.parametrize("criteria", ["", "Nope?x=1", "Task?unknown-param=1", "Task?status=a|b|c|d"])
def test_unsupported_criteria_are_refused(criteria):
    with pytest.raises(Unprocessable):
        parse_criteria(criteria, REGISTRY)
