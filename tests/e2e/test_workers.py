"""Several gunicorn worker processes on one SQLite database: concurrent creates, optimistic
locking with If-Match (R4 http §concurrency) and conditional create stay consistent.

One server with ``--workers 3`` for the module; requests come from a bounded thread pool on
loopback, each with a timeout, so the module always finishes by itself.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from e2e.conftest import PATIENT_ID_SYSTEM, patient_json, running_server, server_log

pytestmark = pytest.mark.e2e

THREADS = 20
TIMEOUT = 30
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("server-workers")
    with running_server(f"sqlite:///{workdir / 'jiayi.sqlite3'}", workdir, workers=3) as url:
        deadline = time.monotonic() + 15  # gunicorn reports workers as they boot
        while server_log(url).count("Booting worker") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server_log(url).count("Booting worker") == 3
        yield url


def _parallel(function, arguments) -> list:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(function, arguments, timeout=120))


def _create(base: str, resource: dict, **headers) -> requests.Response:
    return requests.post(f"{base}/Patient", json=resource, headers={**FHIR_JSON, **headers}, timeout=TIMEOUT)


def test_concurrent_creates_all_succeed(base, unique):
    responses = _parallel(lambda i: _create(base, patient_json(f"{unique}-{i}")), range(30))
    assert [r.status_code for r in responses] == [201] * 30, [r.text for r in responses if r.status_code != 201]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 30
    found = requests.get(f"{base}/Patient", params={"identifier": f"{unique}-7", "_total": "accurate"},
                         timeout=TIMEOUT).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [responses[7].json()["id"]]


def _update_until_accepted(base: str, pid: str, marker: str) -> int:
    """Read, change, PUT with If-Match; on 412 (someone else won) read again.  → 412 count."""
    for conflicts in range(200):
        current = requests.get(f"{base}/Patient/{pid}", timeout=TIMEOUT)
        resource = {**current.json(), "telecom": [{"system": "phone", "value": marker}]}
        response = requests.put(f"{base}/Patient/{pid}", json=resource, timeout=TIMEOUT,
                                headers={**FHIR_JSON, "If-Match": current.headers["ETag"]})
        if response.status_code != 412:
            assert response.status_code == 200, response.text
            return conflicts
    raise AssertionError(f"{marker}: no update accepted after 200 attempts")


def test_if_match_updates_from_20_threads_make_21_versions(base, unique):
    pid = _create(base, patient_json(unique)).json()["id"]
    markers = [f"1380000{i:04d}" for i in range(THREADS)]
    conflicts = _parallel(lambda marker: _update_until_accepted(base, pid, marker), markers)
    print(f"{THREADS} updaters, {sum(conflicts)} lost races (412) retried")
    current = requests.get(f"{base}/Patient/{pid}", timeout=TIMEOUT)
    assert current.headers["ETag"] == f'W/"{THREADS + 1}"'
    history = requests.get(f"{base}/Patient/{pid}/_history", params={"_count": 100}, timeout=TIMEOUT).json()
    versions = [e["resource"]["meta"]["versionId"] for e in history["entry"]]
    assert versions == [str(v) for v in range(THREADS + 1, 0, -1)]
    written = [e["resource"]["telecom"][0]["value"] for e in history["entry"][:-1]]
    assert sorted(written) == markers  # every thread's write is exactly one version


def _racing_conditional_writes(base: str, unique: str, method: str, copies: int = THREADS) -> list:
    """``copies`` identical conditional creates (POST + If-None-Exist) or conditional updates
    (PUT Type?criteria), released together, for a resident nobody has stored yet → the responses."""
    criteria = f"identifier={PATIENT_ID_SYSTEM}|{unique}"
    start = threading.Barrier(copies, timeout=TIMEOUT)

    def write(_):
        start.wait()
        if method == "POST":
            return _create(base, patient_json(unique), **{"If-None-Exist": criteria})
        return requests.put(f"{base}/Patient", params={"identifier": criteria.split("=", 1)[1]},
                            json=patient_json(unique), headers=FHIR_JSON, timeout=TIMEOUT)

    return _parallel(write, range(copies))


def _assert_exactly_one_created(responses: list) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (len(responses) - 1) + [201], [r.text[:200] for r in responses if r.status_code != 200]
    assert len({r.json()["id"] for r in responses}) == 1


def test_concurrent_conditional_creates_make_one_resource(base, unique):
    _assert_exactly_one_created(_racing_conditional_writes(base, unique, "POST", copies=10))


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_racing_conditional_writes_on_each_database(server, unique, method):
    """The single-worker server of conftest (8 threads) on SQLite and on PostgreSQL: the
    criteria are locked (advisory lock on PostgreSQL) so racing writers make one resource."""
    for round_ in range(5):  # a race (one round hides it ~1 time in 8 on PostgreSQL): five rounds
        _assert_exactly_one_created(_racing_conditional_writes(server, f"{unique}-{round_}", method))
