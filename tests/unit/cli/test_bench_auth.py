"""``jiayi bench --token`` (and JIAYI_TOKEN / client credentials): the run's HTTP clients send
the bearer token, and the adapters it runs get the same credentials through the environment."""

from __future__ import annotations

import http.server
import os
import threading

import pytest
from click.testing import CliRunner

from benchmarks import authorization, load
from fhir_server.cli import main

AUTH_ENV = ("JIAYI_TOKEN", "JIAYI_HL7_TOKEN", "JIAYI_CLIENT_ID", "JIAYI_CLIENT_SECRET", "JIAYI_TOKEN_URL",
            "JIAYI_SCOPE")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in AUTH_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    load.use_authorization(load._no_authorization)


def _bench(monkeypatch, *args: str, env: dict | None = None) -> dict:
    seen: dict = {}

    def fake_run(options, echo):
        seen["authorization"] = load._authorization()
        seen["environment"] = {k: os.environ.get(k) for k in AUTH_ENV}
        raise SystemExit(0)

    monkeypatch.setattr("benchmarks.run.run", fake_run)
    for name in AUTH_ENV:  # what the bench sets for its adapters is undone after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["bench", *args], env=env)
    assert result.exit_code == 0, result.output
    return seen


def test_the_token_option_authorizes_every_request_and_the_adapters(monkeypatch):
    seen = _bench(monkeypatch, "--token", "abc.def.ghi")
    assert seen["authorization"] == "Bearer abc.def.ghi"
    assert seen["environment"]["JIAYI_TOKEN"] == "abc.def.ghi"


def test_the_token_comes_from_the_environment_too(monkeypatch):
    seen = _bench(monkeypatch, env={"JIAYI_TOKEN": "from-env"})
    assert seen["authorization"] == "Bearer from-env"


def test_client_credentials_are_passed_on_to_the_adapters(monkeypatch):
    monkeypatch.setattr("adapters.fhir_client.ClientCredentials.token", lambda self: "exchanged")
    seen = _bench(monkeypatch, "--client-id", "bench", "--client-secret", "s3", "--token-url",
                  "https://idp.test/token", "--scope", "system/*.rs")
    assert seen["authorization"] == "Bearer exchanged"
    assert seen["environment"]["JIAYI_CLIENT_ID"] == "bench" and seen["environment"]["JIAYI_SCOPE"] == "system/*.rs"
    assert authorization.environment_auth().client_secret == "s3"


def test_without_credentials_no_header_is_sent(monkeypatch):
    assert _bench(monkeypatch)["authorization"] is None


def test_the_load_client_sends_the_header():
    headers: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            headers.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        load.use_authorization(lambda: "Bearer t1")
        client = load.Client(f"http://127.0.0.1:{server.server_address[1]}/fhir")
        assert client.send("GET", "/metadata")[0] == 200
        assert client.send("GET", "/metadata", headers={"Authorization": "Bearer own"})[0] == 200
        client.close()
    finally:
        server.shutdown()
        server.server_close()
    assert headers == ["Bearer t1", "Bearer own"]
