"""The team load (issue 19): the counter rows the capacity rule reads instead of counting a
team's contracts on every write, kept right by every write of a contract, on SQLite and
PostgreSQL; and the migration's backfill agrees with them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from contract_data import JSON, post, rules, world
from sqlalchemy import select

from fhir_server.familydoctor.rules.contract import TEAM_LOAD
from fhir_server.storage.models import CounterRow

MIGRATION = (Path(__file__).parents[2] / "fhir_server" / "storage" / "migrations" / "versions"
             / "0007_team_counters.py")


def _rows(app, team: str) -> dict[str, int]:
    with app.extensions["jiayi.repository"].unit_of_work() as uow:
        found = uow.session.execute(select(CounterRow.bucket, CounterRow.value)
                                    .where(CounterRow.scope == f"{TEAM_LOAD}CareTeam/{team}")).all()
    return {bucket: value for bucket, value in found if value}


def _load(app, team: str, since: str = "") -> int:
    with app.extensions["jiayi.repository"].unit_of_work() as uow:
        return uow.counted(f"{TEAM_LOAD}CareTeam/{team}", since)


def _put(client, cid: str, contract: dict):
    return client.put(f"/fhir/Contract/{cid}", json=contract, headers=JSON)


def test_capacity_exactly_reached_then_refused(app, client, unique):
    w = world(client, unique, capacity=2)
    assert post(client, "Contract", w.contract(subjects=[w.head])).status_code == 201
    assert post(client, "Contract", w.contract(subjects=[w.spouse], signer=f"Patient/{w.spouse}")).status_code == 201
    assert _rows(app, w.team) == {"2026-12": 2}
    response = post(client, "Contract", w.contract(subjects=[w.child], signer=f"Patient/{w.child}"))
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-team-capacity"]
    assert "serves 2 households" in response.get_json()["issue"][0]["diagnostics"]
    assert _rows(app, w.team) == {"2026-12": 2}  # the refused write moved nothing


def test_termination_and_deletion_free_a_slot(app, client, unique):
    w = world(client, unique, capacity=1)
    contract = w.contract(cid=f"c-{unique}")
    assert _put(client, f"c-{unique}", contract).status_code == 201
    blocked = w.contract(subjects=[w.spouse], signer=f"Patient/{w.spouse}", cid=f"d-{unique}")
    assert _put(client, f"d-{unique}", blocked).status_code == 409
    contract["status"] = "terminated"
    assert _put(client, f"c-{unique}", contract).status_code == 200
    assert _load(app, w.team) == 0
    assert _put(client, f"d-{unique}", blocked).status_code == 201
    assert client.delete(f"/fhir/Contract/d-{unique}").status_code in (200, 204)
    assert _load(app, w.team) == 0
    contract["status"] = "executed"  # executed again: counts again
    assert _put(client, f"c-{unique}", contract).status_code == 200
    assert _rows(app, w.team) == {"2026-12": 1}


def test_a_household_contract_counts_once(app, client, unique):
    w = world(client, unique, capacity=1)
    household = w.contract(subjects=[w.head, w.spouse, w.child], household=True)
    assert post(client, "Contract", household).status_code == 201
    assert _load(app, w.team) == 1
    other = world(client, unique + "b")
    contract = other.contract()
    contract["extension"][0]["valueReference"]["reference"] = f"CareTeam/{w.team}"
    response = post(client, "Contract", contract)
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-team-capacity"]


def test_an_update_moves_the_contract_between_teams_and_months(app, client, unique):
    w = world(client, unique)
    contract = w.contract(cid=f"c-{unique}")
    assert _put(client, f"c-{unique}", contract).status_code == 201
    contract["applies"] = {"start": "2026-01-01", "end": "2027-06-30"}
    assert _put(client, f"c-{unique}", contract).status_code == 200
    assert _rows(app, w.team) == {"2027-06": 1}
    contract["extension"][0]["valueReference"]["reference"] = f"CareTeam/{w.other_team}"
    assert _put(client, f"c-{unique}", contract).status_code == 200
    assert _rows(app, w.team) == {} and _rows(app, w.other_team) == {"2027-06": 1}
    assert _load(app, w.other_team, "2027-07") == 0


def test_a_contract_that_ended_earlier_in_the_month_leaves_room(app, client, unique):
    """The month's row is an upper bound: at the capacity, the rule counts the overlapping
    contracts exactly (one that ended on the 14th does not overlap a term from the 20th)."""
    w = world(client, unique, capacity=1)
    assert post(client, "Contract", w.contract(start="2025-06-15", end="2026-06-14")).status_code == 201
    later = w.contract(subjects=[w.spouse], signer=f"Patient/{w.spouse}", start="2026-06-20", end="2027-06-19")
    assert _load(app, w.team, "2026-06") == 1  # the bound says full
    assert post(client, "Contract", later).status_code == 201  # the exact count says not
    overlapping = w.contract(subjects=[w.child], signer=f"Patient/{w.child}", start="2026-06-01", end="2027-05-31")
    response = post(client, "Contract", overlapping)
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-team-capacity"]


def test_the_migration_backfill_agrees_with_the_maintained_rows(app, client, unique):
    w = world(client, unique)
    assert post(client, "Contract", w.contract(subjects=[w.head, w.spouse, w.child], household=True)
                ).status_code == 201
    assert post(client, "Contract", w.contract(status="offered", start="2027-01-01", end="2027-12-31")
                ).status_code == 201  # an application does not count
    spec = importlib.util.spec_from_file_location("migration_0007", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with app.extensions["jiayi.repository"].unit_of_work() as uow:
        rebuilt = migration.team_load(uow.session.connection())
    scope = f"{TEAM_LOAD}CareTeam/{w.team}"
    assert {b: v for (s, b), v in rebuilt.items() if s == scope} == _rows(app, w.team) == {"2026-12": 1}
