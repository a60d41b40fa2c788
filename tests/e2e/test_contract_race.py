"""Racing signings across server processes (SPEC §4: "two requests racing to sign the same
resident on two app processes end with exactly one contract"): ten simultaneous contracts
for one resident, sent to ``jiayi serve --workers 3``, on SQLite and on PostgreSQL, leave
exactly one; ten copies of one two-card event leave one record.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from contract_data import JSON, World, n, parameters, rules

from e2e.conftest import running_server, server_log

pytestmark = pytest.mark.e2e

COPIES = 10
TIMEOUT = 60


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"race-{request.param}")
    url = (f"sqlite:///{workdir / 'jiayi.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_server_url"))
    with running_server(url, workdir, workers=3) as server:
        deadline = time.monotonic() + 20
        while server_log(server).count("Booting worker") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server_log(server).count("Booting worker") == 3
        yield server


def _world(base: str, unique: str) -> World:
    def put(url, resource):
        return requests.put(f"{base}/{url}", json=resource, headers=JSON, timeout=TIMEOUT)
    return World(unique).load(put)


def _together(function, copies: int = COPIES) -> list[requests.Response]:
    start = threading.Barrier(copies, timeout=TIMEOUT)

    def run(i):
        start.wait()
        return function(i)

    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(run, range(copies), timeout=180))


def test_ten_racing_signings_of_one_resident_leave_one_contract(base, unique):
    w = _world(base, unique)
    # different teams and overlapping terms: each on its own would be accepted
    contracts = [w.contract(team=w.team if i % 2 else w.other_team, start=f"2026-0{1 + i % 9}-01",
                            end=f"2027-0{1 + i % 9}-01") for i in range(COPIES)]
    responses = _together(lambda i: requests.post(f"{base}/Contract", json=contracts[i], headers=JSON,
                                                  timeout=TIMEOUT))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (COPIES - 1), [r.text[:300] for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert rules(r.json()) == ["jiayi-contract-one-in-force"], r.text
    found = requests.get(f"{base}/Contract", params={"patient": f"Patient/{w.head}", "_total": "accurate"},
                         timeout=TIMEOUT).json()
    assert found["total"] == 1


def test_a_card_event_sent_ten_times_at_once_is_recorded_once(base, unique):
    w = _world(base, unique)
    assert requests.post(f"{base}/Contract", json=w.contract(), headers=JSON, timeout=TIMEOUT).status_code == 201
    event = parameters(eventId=("valueString", f"ev-{unique}"), residentCardType=("valueCode", "resident-id-card"),
                       residentCardNumber=("valueString", w.card(w.head)),
                       doctorCardNumber=("valueString", w.doctor_card),
                       time=("valueDateTime", "2026-05-06T09:30:00+08:00"), item=("valueCode", "health-education"))
    responses = _together(lambda i: requests.post(f"{base}/Encounter/$record-service", json=event, headers=JSON,
                                                  timeout=TIMEOUT))
    assert sorted(r.status_code for r in responses) == [200] * (COPIES - 1) + [201], [r.text[:300] for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    found = requests.get(f"{base}/Encounter", params={"identifier": f"{n.TWO_CARD_EVENT}|ev-{unique}",
                                                      "_total": "accurate"}, timeout=TIMEOUT).json()
    assert found["total"] == 1
