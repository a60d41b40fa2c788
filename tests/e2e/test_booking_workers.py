"""Reserved-slot booking across several ``jiayi serve`` worker processes (SPEC §4 Referrals,
§7 stateless app): concurrent ``ServiceRequest/$book`` calls never double-book a slot, on
SQLite and PostgreSQL; the referral Task state machine holds over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from referral_world import new_world

from e2e.conftest import running_server

pytestmark = pytest.mark.e2e
TIMEOUT = 30
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"server-booking-{request.param}")
    url = f"sqlite:///{workdir / 'jiayi.sqlite3'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_server_url")
    with running_server(url, workdir, workers=3) as served:
        yield served


def _put(base: str, resource: dict) -> requests.Response:
    return requests.put(f"{base}/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON,
                        timeout=TIMEOUT)


def test_concurrent_bookings_from_several_workers(base):
    world = new_world()
    slots = [world.slot(f"s{k}", 2 + k / 24, reserved=True) for k in range(4)]
    referrals = [world.referral(f"up{k}") for k in range(10)]
    for resource in [*world.resources(), *slots, *referrals]:
        assert _put(base, resource).status_code in (200, 201)

    def book(k: int) -> requests.Response:
        return requests.post(f"{base}/ServiceRequest/{world.id(f'up{k}')}/$book",
                             json={"resourceType": "Parameters"}, headers=FHIR_JSON, timeout=TIMEOUT)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(book, range(10), timeout=120))
    booked = [r.json()["slot"][0]["reference"] for r in responses if r.status_code == 201]
    assert len(booked) == 4 and len(set(booked)) == 4, [r.text for r in responses]
    assert {r.status_code for r in responses} == {201, 409}
    for slot in slots:
        assert requests.get(f"{base}/Slot/{slot['id']}", timeout=TIMEOUT).json()["status"] == "busy"
        found = requests.get(f"{base}/Appointment", params={"slot": f"Slot/{slot['id']}"}, timeout=TIMEOUT).json()
        assert found["total"] == 1


def test_task_state_machine_over_http(base):
    world = new_world()
    for resource in [*world.resources(), world.referral("up"), world.task("task", "up", "requested")]:
        assert _put(base, resource).status_code in (200, 201)
    task = world.task("task", "up", "completed")
    refused = _put(base, task)
    assert refused.status_code == 409 and "'requested' to 'completed'" in refused.json()["issue"][0]["diagnostics"]
    for status in ("received", "accepted", "in-progress", "completed"):
        assert _put(base, world.task("task", "up", status)).status_code == 200
