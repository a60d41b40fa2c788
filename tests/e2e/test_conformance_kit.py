"""The vendor conformance kit against real servers: green against a freshly started ``jiayi serve``
(SQLite and PostgreSQL, with access control on), and failing with the specific test ids against
a Jiayi with a deliberate defect (``broken_jiayi.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from auth_support import ISSUER

from benchmarks.servers import die_with_parent, free_port, stop
from e2e.conftest import E2E_AUDIENCE, _wait_until_up

pytestmark = pytest.mark.e2e
BROKEN = Path(__file__).with_name("broken_jiayi.py")


def conformance_run(target: str, token: str, output: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fhir_server.cli", "conformance", "run", "--target", target,
                           "--token", token, "--output", str(output), *extra],
                          capture_output=True, text=True, timeout=600, check=False)


def failed_ids(junit: Path) -> set[str]:
    return {case.get("name") for case in ET.parse(junit).getroot().iter("testcase")
            if case.find("failure") is not None}


def test_the_kit_is_green_against_jiayi(server, e2e_token, tmp_path):
    done = conformance_run(server, e2e_token, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert failed_ids(tmp_path / "junit.xml") == set()
    cases = list(ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"))
    assert len(cases) >= 30 and not any(c.find("skipped") is not None for c in cases)
    assert "CONFORMANT" in done.stdout and "] PASS SRV-META-01" in done.stdout  # progress on the terminal
    assert sorted(p.name for p in (tmp_path / "TestReport").iterdir()) == [
        "TestReport-server-contract-signing.json", "TestReport-server-ig-examples.json",
        "TestReport-server-metadata.json", "TestReport-server-referral.json", "TestReport-server-two-card.json"]
    assert e2e_token not in (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.fixture
def broken_server(request, tmp_path, e2e_issuer):
    """A Jiayi (SQLite, access control on) with the defect named by the test's parameter."""
    port = free_port()
    env_workdir = tmp_path / "server"
    env_workdir.mkdir()
    import os

    env = {**os.environ, "XDG_RUNTIME_DIR": str(env_workdir), "JIAYI_AUTH_JWKS": str(e2e_issuer.jwks_path),
           "JIAYI_AUTH_ISSUER": ISSUER, "JIAYI_AUTH_AUDIENCE": E2E_AUDIENCE}
    env.pop("JIAYI_BASE_URL", None)
    stderr = env_workdir / "stderr.log"
    with (env_workdir / "stdout.log").open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen([sys.executable, str(BROKEN), request.param, "serve", "--host", "127.0.0.1",
                                    "--port", str(port), "--database", f"sqlite:///{env_workdir / 'db.sqlite3'}"],
                                   stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=env_workdir,
                                   start_new_session=True,
                                   preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        _wait_until_up(process, base, stderr)
        yield base
    finally:
        stop(process)


@pytest.mark.parametrize(("broken_server", "only", "expected"), [
    ("one-contract-rule", "contracts", {"SRV-CON-02"}),
    ("task-state-machine", "referrals", {"SRV-REF-03"}),
    ("task-owner-search", "metadata", {"SRV-META-04"}),
], indirect=["broken_server"])
def test_the_kit_catches_a_broken_jiayi(broken_server, only, expected, e2e_token, tmp_path):
    done = conformance_run(broken_server, e2e_token, tmp_path, "--only", only)
    assert done.returncode == 1, done.stdout[-4000:]
    assert failed_ids(tmp_path / "junit.xml") == expected, done.stdout[-4000:]
    assert "NOT CONFORMANT" in done.stdout
