"""``jiayi bench --servers N``: the closed-loop load spreads its clients over the servers, and the
option is refused on SQLite before anything starts."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections import Counter

from click.testing import CliRunner

from benchmarks.load import run_load
from fhir_server.cli import main


@contextlib.contextmanager
def counting_server(seen: Counter, name: str):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (the http.server API)
            seen[name] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def test_clients_and_warm_up_are_spread_over_the_servers():
    seen: Counter = Counter()
    with counting_server(seen, "a") as a, counting_server(seen, "b") as b:
        m = run_load([a, b], lambda i: ("GET", f"/Patient/{i}", None, {}), clients=4, max_requests=40,
                     max_seconds=30, warmup=4)
    assert m.count == 40 and m.errors == 0
    assert seen["a"] + seen["b"] == 44 and seen["a"] >= 2 and seen["b"] >= 2


def test_one_base_is_still_a_string():
    seen: Counter = Counter()
    with counting_server(seen, "a") as a:
        m = run_load(a, lambda i: ("GET", "/metadata", None, {}), clients=2, max_requests=6, max_seconds=30)
    assert m.count == 6 and seen["a"] == 6


def test_several_servers_on_sqlite_are_refused(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--servers", "2", "--workdir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--servers 2 needs PostgreSQL" in result.output
