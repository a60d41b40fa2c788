"""``jiayi import`` / ``export`` send the token they are given (--token, JIAYI_TOKEN, or OAuth2
client credentials exchanged at --token-url) on every request to the FHIR server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from click.testing import CliRunner

from adapters.publichealth import synthetic, writers
from adapters.publichealth.cli import export_command, import_command


@pytest.fixture(autouse=True)
def _no_credentials_from_the_environment(monkeypatch):
    """Only what a test passes counts (the e2e session exports JIAYI_TOKEN for the CLIs it starts)."""
    for name in ("JIAYI_TOKEN", "JIAYI_HL7_TOKEN", "JIAYI_CLIENT_ID", "JIAYI_CLIENT_SECRET", "JIAYI_TOKEN_URL"):
        monkeypatch.delenv(name, raising=False)


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self.seen.append(("POST", self.path, self.headers.get("Authorization")))
        if self.path == "/token":
            assert "grant_type=client_credentials" in body
            self._answer({"access_token": "from-idp", "token_type": "Bearer", "expires_in": 600})
        else:
            self._answer({"resourceType": "Bundle", "type": "searchset", "entry": []})

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, self.headers.get("Authorization")))
        self._answer({"resourceType": "Bundle", "type": "searchset", "entry": []})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_server():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def residents(tmp_path):
    people = synthetic.residents(3, seed=4)
    for p in people:
        p.pop("household_no")
    path = tmp_path / "r.csv"
    writers.write(path, "resident", people, "csv")
    return path


def _fhir_requests():
    return [s for s in _Recorder.seen if s[1] != "/token"]


def test_import_sends_the_token_option(fake_server, residents):
    result = CliRunner().invoke(import_command, [str(residents), "--type", "resident", "--server",
                                                 f"{fake_server}/fhir", "--quiet", "--token", "t-123"])
    assert result.exit_code == 0, result.output
    assert _fhir_requests() and {auth for _, _, auth in _fhir_requests()} == {"Bearer t-123"}


def test_export_takes_the_token_from_the_environment(fake_server, tmp_path):
    result = CliRunner().invoke(export_command, ["--type", "resident", "--server", f"{fake_server}/fhir",
                                                 "--output", str(tmp_path / "out.csv")],
                                env={"JIAYI_TOKEN": "t-env"})
    assert result.exit_code == 0, result.output
    assert _fhir_requests() and {auth for _, _, auth in _fhir_requests()} == {"Bearer t-env"}


def test_import_with_client_credentials(fake_server, residents):
    result = CliRunner().invoke(import_command, [str(residents), "--type", "resident", "--server",
                                                 f"{fake_server}/fhir", "--quiet"],
                                env={"JIAYI_CLIENT_ID": "importer", "JIAYI_CLIENT_SECRET": "s",
                                     "JIAYI_TOKEN_URL": f"{fake_server}/token"})
    assert result.exit_code == 0, result.output
    token_calls = [s for s in _Recorder.seen if s[1] == "/token"]
    assert len(token_calls) == 1 and token_calls[0][2].startswith("Basic ")
    assert {auth for _, _, auth in _fhir_requests()} == {"Bearer from-idp"}


def test_half_given_client_credentials_are_a_usage_error(residents):
    result = CliRunner().invoke(import_command, [str(residents), "--type", "resident", "--server",
                                                 "http://127.0.0.1:9/fhir", "--client-id", "x"])
    assert result.exit_code == 2 and "--client-secret" in result.output
