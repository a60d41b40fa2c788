"""The contract rules and operations on the in-memory repository twin (no database): the
same hooks, the same searches (Jiayi search parameters included), the same answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from contract_data import parameters, post, rules, world

from fhir_server.app import create_app
from fhir_server.core.clock import SteppingClock
from fhir_server.repository.memory import MemoryRepository


@pytest.fixture(scope="module")
def client():
    clock = SteppingClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    app = create_app({"TESTING": True, "BASE_URL": "http://testserver/fhir"},
                     repository=MemoryRepository(clock=clock), clock=clock)
    return app.test_client()


def test_one_in_force_and_capacity_on_the_twin(client):
    w = world(client, "m1", capacity=2)
    assert post(client, "Contract", w.contract()).status_code == 201
    second = post(client, "Contract", w.contract(team=w.other_team))
    assert second.status_code == 409 and rules(second.get_json()) == ["jiayi-contract-one-in-force"]
    assert post(client, "Contract", w.contract(subjects=[w.spouse], fees=[120])).status_code == 201
    full = post(client, "Contract", w.contract(subjects=[w.child], fees=[120], signer=f"Patient/{w.head}"))
    assert full.status_code == 409 and rules(full.get_json()) == ["jiayi-team-capacity"]


def test_intrinsic_rules_on_the_twin(client):
    w = world(client, "m2")
    response = post(client, "Contract", w.contract(end="2031-01-01", subjects=[w.head, w.spouse], household=True))
    assert response.status_code == 422
    assert sorted(rules(response.get_json())) == ["jiayi-contract-household-members", "jiayi-contract-term"]


def test_operations_on_the_twin_use_the_injected_clock(client):
    w = world(client, "m3")
    contract = post(client, "Contract", w.contract()).get_json()
    # today is 2026-06-01 (the injected clock, China Standard Time): the contract is in force
    assert client.get(f"/fhir/Patient/{w.head}/$family-doctor").status_code == 200
    ended = post(client, f"Contract/{contract['id']}/$terminate", parameters(reason=("valueCode", "resident-request")))
    assert ended.status_code == 200 and ended.get_json()["applies"]["end"] == "2026-06-01"
    assert client.get(f"/fhir/Patient/{w.head}/$family-doctor?asOf=2026-06-02").status_code == 404
