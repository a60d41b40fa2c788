"""Subscriptions end to end (issue 20): a real ``jiayi serve`` with authentication on, a
subscriber's HTTP endpoint on loopback, a websocket client, and a server killed (SIGKILL) with
notifications pending that delivers them after it is started again; SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests
import websocket
from auth_support import ISSUER
from sqlalchemy import create_engine, text
from subscription_receiver import Receiver

from benchmarks.servers import die_with_parent, free_port, stop
from e2e.conftest import E2E_AUDIENCE

FHIR_JSON = "application/fhir+json"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('subs') / 'subs.sqlite3'}"
        return
    admin_url = request.getfixturevalue("postgres_server_url")  # skips (or fails, when required) without it
    name = f"jiayi_subs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Server:
    """``jiayi serve`` on a free loopback port, which a test may kill and start again."""

    def __init__(self, database: str, workdir, issuer) -> None:
        self.database, self.workdir, self.port = database, workdir, free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir), "JIAYI_AUTH_JWKS": str(issuer.jwks_path),
                    "JIAYI_AUTH_ISSUER": ISSUER, "JIAYI_AUTH_AUDIENCE": E2E_AUDIENCE}
        self.env.pop("JIAYI_BASE_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "fhir_server.cli", "serve", "--host", "127.0.0.1", "--port",
                   str(self.port), "--database", self.database]
        with (self.workdir / "stderr.log").open("ab") as err:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                            env=self.env, cwd=self.workdir, start_new_session=True,
                                            preexec_fn=die_with_parent)  # noqa: PLW1509
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{self.base}/metadata", timeout=5).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail("server did not start: " + (self.workdir / "stderr.log").read_text()[-3000:])

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean shutdown, nothing flushed."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop(self.process)


@pytest.fixture(scope="module")
def server(database, tmp_path_factory, e2e_issuer):
    """One server per database for this module (the restart test kills it and starts it again)."""
    server = Server(database, tmp_path_factory.mktemp("subs-server"), e2e_issuer)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(e2e_issuer):
    return {"Authorization": f"Bearer {e2e_issuer.token('system/*.cruds')}", "Content-Type": FHIR_JSON}


def subscribe(base: str, headers: dict, criteria: str, channel: dict) -> str:
    body = {"resourceType": "Subscription", "status": "requested", "reason": "e2e", "criteria": criteria,
            "channel": channel}
    created = requests.post(f"{base}/Subscription", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    sub_id = created.json()["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = requests.get(f"{base}/Subscription/{sub_id}", headers=headers, timeout=10).json()["status"]
        if status != "requested":
            assert status == "active"
            time.sleep(0.2)
            return sub_id
        time.sleep(0.1)
    pytest.fail("the subscription was not activated")


def referral(base: str, headers: dict, owner: str, note: str) -> str:
    body = {"resourceType": "Task", "status": "requested", "intent": "order", "owner": {"reference": owner},
            "description": note}
    response = requests.post(f"{base}/Task", json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_rest_hook_receiver_gets_each_referral(server, admin):
    owner = f"Organization/hosp-{uuid.uuid4().hex[:8]}"
    with Receiver() as receiver:
        subscribe(server.base, admin, f"Task?owner={owner}&status=requested",
                  {"type": "rest-hook", "endpoint": receiver.url, "payload": FHIR_JSON,
                   "header": ["X-Hospital-Key: abc123"]})
        sent = [referral(server.base, admin, owner, f"referral {n}") for n in range(5)]
        referral(server.base, admin, "Organization/someone-else", "not for us")
        events = receiver.wait_for(5, timeout=15)
        assert [e.resource["id"] for e in events] == sent
        assert {e.headers["X-Hospital-Key"] for e in events} == {"abc123"}


def test_websocket_client_is_pinged(server, admin, e2e_issuer):
    owner = f"Organization/hosp-{uuid.uuid4().hex[:8]}"
    sub_id = subscribe(server.base, admin, f"Task?owner={owner}", {"type": "websocket"})
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws/subscriptions", timeout=15)
    try:
        ws.send(f"bind {sub_id}")
        assert ws.recv().startswith("error")  # no token yet
        ws.send(f"bind-with-token {e2e_issuer.token('system/*.cruds')}")
        assert ws.recv() == "token accepted"
        ws.send(f"bind {sub_id}")
        assert ws.recv() == f"bound {sub_id}"
        referral(server.base, admin, owner, "over the websocket")
        assert ws.recv() == f"ping {sub_id}"
    finally:
        ws.close()


def test_killed_server_delivers_pending_notifications_after_restart(server, admin):
    owner = f"Organization/hosp-{uuid.uuid4().hex[:8]}"
    with Receiver() as receiver:
        subscribe(server.base, admin, f"Task?owner={owner}",
                  {"type": "rest-hook", "endpoint": receiver.url, "payload": FHIR_JSON})
        receiver.refusing = True  # the hospital's system is down
        sent = [referral(server.base, admin, owner, f"while down {n}") for n in range(3)]
        time.sleep(1.5)  # at least one attempt failed
        server.kill()
        receiver.refusing = False
        server.start()
        events = receiver.wait_for(3, timeout=90)
        assert [e.resource["id"] for e in events] == sent
