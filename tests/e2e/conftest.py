"""End-to-end fixtures: a real ``jiayi serve`` process (gunicorn) on a loopback port.

``server`` is session-scoped and parametrized over SQLite and PostgreSQL, so every e2e
test runs once against each database while only two server processes are started.  The
process is started in its own process group (gunicorn master and workers) and the whole
group is terminated at the end; on Linux the master also gets SIGTERM if pytest itself
dies, so no server outlives the test run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from auth_support import ISSUER, TestIssuer

from benchmarks.servers import die_with_parent, free_port, stop
from e2e.independent_parse import problems_in_response

START_TIMEOUT = 30.0
_SERVER_LOGS: dict[str, Path] = {}  # base URL → the server's stderr (tracebacks of 500s land there)
PATIENT_ID_SYSTEM = "urn:oid:2.16.156.10011.1.2"  # 居民身份证号 (national resident identity card)


def _wait_until_up(process: subprocess.Popen, base: str, stderr: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        # a slow first answer (the IG is loaded on a cold start) is not a failure: ask again
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(f"{base}/metadata", timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    state = f"exited with {process.returncode}" if process.poll() is not None else "did not answer in time"
    stop(process)
    pytest.fail(f"jiayi serve {state} ({base}/metadata); stderr:\n{stderr.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def running_server(database_url: str, workdir: Path, workers: int = 1,
                   environment: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``jiayi serve`` on a free loopback port; yield its base URL (…/fhir)."""
    port = free_port()
    command = [sys.executable, "-m", "fhir_server.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--database", database_url, "--workers", str(workers)]
    # Each server gets its own gunicorn control socket (default ~/.gunicorn/gunicorn.ctl is shared).
    env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir), **(environment or {})}
    env.pop("JIAYI_BASE_URL", None)  # Location headers must name the port we chose
    stdout, stderr = workdir / "stdout.log", workdir / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                   cwd=workdir, start_new_session=True,
                                   # only prctl() runs between fork and exec
                                   preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
    try:
        base = f"http://127.0.0.1:{port}/fhir"
        _wait_until_up(process, base, stderr)
        _SERVER_LOGS[base] = stderr
        yield base
    finally:
        _SERVER_LOGS.pop(f"http://127.0.0.1:{port}/fhir", None)
        stop(process)


def server_log(base: str) -> str:
    """What the server at ``base`` has written to stderr so far."""
    return _SERVER_LOGS[base].read_text(encoding="utf-8", errors="replace")


E2E_AUDIENCE = "jiayi-e2e"  # the audience the shared servers require (their ports are chosen at run time)
_AUTHENTICATED: dict[str, str] = {}  # base URL of a server with authentication on → the token its clients send


@pytest.fixture(scope="session")
def e2e_issuer(tmp_path_factory) -> TestIssuer:
    """The identity provider of the shared e2e servers: a key set made for this run."""
    return TestIssuer(tmp_path_factory.mktemp("idp"), E2E_AUDIENCE)


@pytest.fixture(scope="session")
def e2e_token(e2e_issuer) -> Iterator[str]:
    """A system client's token (as an integration engine holds one); the CLI adapters that the
    tests start (``jiayi import``, ``jiayi hl7 listen``) take it from ``JIAYI_TOKEN``."""
    token = e2e_issuer.token("system/*.cruds", lifetime=6 * 3600, client_id="e2e-integration-engine")
    previous = os.environ.get("JIAYI_TOKEN")
    os.environ["JIAYI_TOKEN"] = token
    send = requests.Session.send

    def send_with_token(session, prepared, **kwargs):
        """Requests to an authenticated shared server carry the token, unless the test sets its own."""
        token = next((t for base, t in _AUTHENTICATED.items() if (prepared.url or "").startswith(base)), None)
        if token and "Authorization" not in prepared.headers:
            prepared.headers["Authorization"] = f"Bearer {token}"
        return send(session, prepared, **kwargs)

    requests.Session.send = send_with_token  # session-wide: module fixtures load data through it too
    try:
        yield token
    finally:
        requests.Session.send = send
        if previous is None:
            os.environ.pop("JIAYI_TOKEN", None)
        else:
            os.environ["JIAYI_TOKEN"] = previous


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory, e2e_issuer, e2e_token) -> Iterator[str]:
    """The base URL of a running server, once on SQLite and once on PostgreSQL, with
    authentication on as a deployment runs it: every request of the tests carries a token."""
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'jiayi.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_server_url")
    environment = {"JIAYI_AUTH_JWKS": str(e2e_issuer.jwks_path), "JIAYI_AUTH_ISSUER": ISSUER,
                   "JIAYI_AUTH_AUDIENCE": E2E_AUDIENCE}
    with running_server(url, workdir, environment=environment) as base:
        _AUTHENTICATED[base] = e2e_token
        try:
            yield base
        finally:
            _AUTHENTICATED.pop(base, None)


@pytest.fixture(autouse=True)
def _independent_parse(monkeypatch):
    """Every FHIR JSON answer a test receives through ``requests`` (directly, or through fhirpy
    and fhirclient) is parsed by fhir.resources as well; a resource it refuses fails the test."""
    problems: list[str] = []
    send = requests.Session.send

    def send_and_parse(session, prepared, **kwargs):
        response = send(session, prepared, **kwargs)
        if not kwargs.get("stream"):
            problems.extend(problems_in_response(response))
        return response

    monkeypatch.setattr(requests.Session, "send", send_and_parse)
    yield
    assert not problems, "fhir.resources (R4B models) refuses what the server sent:\n" + "\n".join(problems[:10])


@pytest.fixture(autouse=True)
def _server_log_on_failure(request):
    """Attach what the server logged during a test (minus the access log) to its report."""
    offsets = {base: path.stat().st_size for base, path in _SERVER_LOGS.items()}
    yield
    for base, path in list(_SERVER_LOGS.items()):
        with path.open("rb") as log:
            log.seek(offsets.get(base, 0))
            lines = log.read().decode("utf-8", "replace").splitlines()
        text = "\n".join(line for line in lines if not line.startswith("127.0.0.1 - "))
        if text.strip():
            request.node.add_report_section("teardown", f"server log {base}", text)


@pytest.fixture()
def unique() -> str:
    """A value no other test uses (tests share one server per database)."""
    return uuid.uuid4().hex[:12]


def patient_json(unique: str, **extra) -> dict:
    """A resident as a community health centre registers one."""
    resource = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>王秀英，女，'
                                                   '1948 年生 &amp; 高血压随访 &lt;签约居民&gt;</p></div>'},
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": unique}],
        "name": [{"use": "official", "text": "王秀英", "family": "王", "given": ["秀英"]}],
        "gender": "female",
        "birthDate": "1948-11-02",
        "address": [{"text": "浙江省杭州市西湖区文三路 90 号", "city": "杭州市", "country": "CN"}],
    }
    resource.update(extra)
    return resource
