"""The AuditEvents the server builds (SPEC §6): valid R4, and their search values picked out
directly (``search_nodes``) give exactly the index rows that evaluating every AuditEvent search
parameter's expression gives, so skipping the evaluation loses no searchability."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_server.auth.audit import SEARCH_PATHS, Audited, audit_event, search_nodes
from fhir_server.auth.principal import Principal
from fhir_server.search.index import COLUMN_PARAMS, index_entries
from fhir_server.search.registry import base_registry
from fhir_server.validation import Validator, ig

WHEN = datetime(2026, 12, 7, 8, 30, 15, 123000, tzinfo=UTC)
DOCTOR = Principal("u-1", fhir_user="Practitioner/d1", client_id="his", remote_addr="10.0.0.7")
RESIDENT = Principal("u-2", fhir_user="Patient/p9", remote_addr="10.0.0.8")
CLIENT = Principal("svc", client_id="etl")
EVENTS = {
    "read by a doctor": (DOCTOR, Audited("read", 200, ["Patient/p1"], ["p1"])),
    "search with a query": (DOCTOR, Audited("search-type", 200, ["Observation/o1", "Observation/o2"], ["p1", "p2"],
                                            query="subject=Patient/p1&code=8480-6")),
    "a resident's own read": (RESIDENT, Audited("read", 200, ["Patient/p9"], ["p9"])),
    "a refused write": (CLIENT, Audited("update", 403, ["Condition/c1"], ["p1"], message="out of scope")),
    "a failed search without entities": (CLIENT, Audited("search-type", 400, query="birthdate=x")),
}


@pytest.mark.parametrize("name", EVENTS)
def test_picked_values_index_like_the_expressions(name):
    principal, audited = EVENTS[name]
    event = {"id": "e1", **audit_event(principal, audited, WHEN)}
    registry = base_registry()
    evaluated = index_entries(registry, "AuditEvent", event)
    picked = index_entries(registry, "AuditEvent", event, given=search_nodes(event))
    assert picked == evaluated
    assert {"agent", "entity", "date", "type", "subtype"} <= set(picked) or audited.entities == []


def test_every_audit_event_search_parameter_is_picked():
    indexed = {p.code for p in base_registry().for_type("AuditEvent").values() if p.indexed} - COLUMN_PARAMS
    assert set(SEARCH_PATHS) | {"patient"} == indexed


@pytest.mark.parametrize("name", EVENTS)
def test_server_built_events_are_valid_r4(name):
    principal, audited = EVENTS[name]
    event = audit_event(principal, audited, WHEN)
    validator = Validator(ig.conformance())
    issues = validator.validate(event) + validator.base_write_issues(event)
    assert not [i for i in issues if i.is_error], issues
