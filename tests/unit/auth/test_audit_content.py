"""The AuditEvents the server builds (SPEC §6): valid R4, and their search values picked out
directly (``search_nodes``) give exactly the index rows that evaluating every AuditEvent search
parameter's expression gives (but for the parameters left out on purpose, ``NOT_INDEXED``), so
skipping the evaluation loses no searchability."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_server.auth.audit import NOT_INDEXED, Audited, audit_event, search_nodes
from fhir_server.auth.principal import Principal
from fhir_server.search.index import COLUMN_PARAMS, index_entries
from fhir_server.search.registry import base_registry
from fhir_server.search.sql import indexer
from fhir_server.search.sql.indexer import server_record_rows
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


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", EVENTS)
def test_picked_values_give_the_rows_of_the_expressions(name, dialect):
    principal, audited = EVENTS[name]
    event = {"id": "e1", **audit_event(principal, audited, WHEN)}
    registry = base_registry()
    expected: dict = {}
    entries = index_entries(registry, "AuditEvent", event)
    indexer._add_rows(expected, registry, dialect, "AuditEvent", "e1",
                      {code: rows for code, rows in entries.items() if code not in NOT_INDEXED})
    for _ in range(2):  # made, then remembered
        picked = server_record_rows(registry, dialect, "AuditEvent", "e1", event, search_nodes(event))
        assert {k: sorted(v, key=repr) for k, v in picked.items()} == {
            k: sorted(v, key=repr) for k, v in expected.items()}
    params = {row[2] for rows in picked.values() for row in rows}
    assert {"agent", "date", "type", "subtype", "outcome"} <= params
    assert not audited.entities or {"entity", "patient"} <= params
    assert not params & set(NOT_INDEXED)


def test_a_custom_search_parameter_on_audit_events_is_evaluated():
    custom = {"resourceType": "SearchParameter", "url": "https://jiayi.test/sp/audit-desc", "name": "outcome-desc",
              "status": "active", "code": "outcome-desc", "base": ["AuditEvent"], "type": "string",
              "expression": "AuditEvent.outcomeDesc"}
    registry = base_registry().with_custom([custom], ("test",))
    principal, audited = EVENTS["a refused write"]
    event = audit_event(principal, audited, WHEN)
    rows = server_record_rows(registry, "sqlite", "AuditEvent", "e1", event, search_nodes(event))
    assert ("AuditEvent", "e1", "outcome-desc", "out of scope", "out of scope") in rows["string"]


def test_every_audit_event_search_parameter_is_picked():
    indexed = {p.code for p in base_registry().for_type("AuditEvent").values() if p.indexed} - COLUMN_PARAMS
    principal, audited = EVENTS["read by a doctor"]
    assert set(search_nodes(audit_event(principal, audited, WHEN))) == indexed


@pytest.mark.parametrize("name", EVENTS)
def test_server_built_events_are_valid_r4(name):
    principal, audited = EVENTS[name]
    event = audit_event(principal, audited, WHEN)
    validator = Validator(ig.conformance())
    issues = validator.validate(event) + validator.base_write_issues(event)
    assert not [i for i in issues if i.is_error], issues


def test_a_picked_parameter_with_pinyin_forms_is_evaluated_the_usual_way():
    registry = base_registry()
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "张", "given": ["三"]}]}
    nodes = {"name": [(patient["name"][0], "HumanName")]}
    rows = server_record_rows(registry, "sqlite", "Patient", "p1", patient, nodes)
    expected: dict = {}
    indexer._add_rows(expected, registry, "sqlite", "Patient", "p1", index_entries(registry, "Patient", patient))
    assert sorted(r for r in rows["string"] if r[2].startswith("name")) == sorted(
        r for r in expected["string"] if r[2].startswith("name"))
    assert any(r[2] == "name:pinyin" for r in rows["string"])
