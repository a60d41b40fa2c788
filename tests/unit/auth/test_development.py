"""Development mode: open on loopback only, elsewhere only with JIAYI_AUTH=off (SPEC §6)."""

from __future__ import annotations

import pytest

from fhir_server.auth.development import OpenServerRefused, is_loopback, startup_line


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_is_open(host):
    assert is_loopback(host) and startup_line(host, None, None).startswith("DEVELOPMENT MODE")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "jiayi.example.org"])
def test_other_addresses_refuse_without_keys(host):
    with pytest.raises(OpenServerRefused):
        startup_line(host, None, None)
    assert "JIAYI_AUTH=off" in startup_line(host, None, "off")
    assert startup_line(host, "/etc/jiayi/jwks.json", None).startswith("authentication: bearer tokens")


def test_the_demo_is_open_with_tokens_honoured_on_loopback_only():
    line = startup_line("127.0.0.1", "/tmp/demo-jwks.json", None, optional=True)
    assert line.startswith("DEVELOPMENT MODE (demo)") and "jiayi token" in line
    with pytest.raises(OpenServerRefused):
        startup_line("0.0.0.0", "/tmp/demo-jwks.json", None, optional=True)
