"""A subscriber's endpoint on loopback for the subscription tests: records each POST (headers,
body, arrival time); can be told to refuse (HTTP 503) to exercise the retries."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival

    @property
    def resource(self) -> dict | None:
        return json.loads(self.body) if self.body else None


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refusing = False
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = 503 if receiver.refusing else 200
                if status == 200:
                    with receiver._arrived:
                        receiver.received.append(Received(self.path, dict(self.headers), body, time.time()))
                        receiver._arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[Received]:
        """What arrived with a body (the handshake of an R4 subscription has none)."""
        return [r for r in self.received if r.body]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.events()) < count and time.monotonic() < deadline:
                self._arrived.wait(0.1)
        return self.events()
