"""Helpers for the MLLP tests: start ``jiayi hl7 listen`` as a process, a fake hospital MLLP
endpoint, a bounded MLLP client."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from adapters.hl7v2 import er7, mllp
from adapters.hl7v2.ack import ack

TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float = TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def running_listener(server_url: str, workdir: Path, state: Path | None = None, config: dict | None = None,
                     max_bytes: int = 65536, port: int | None = None,
                     extra_args: tuple[str, ...] = ()) -> Iterator[int]:
    """``jiayi hl7 listen`` on a free loopback port (yields the port); stopped with SIGTERM."""
    port = port or free_port()
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", str(port), "--server", server_url,
               "--host", "127.0.0.1", "--state", str(state or workdir / "hl7-state.sqlite3"),
               "--max-bytes", str(max_bytes), "--interval", "0.3"]
    if config is not None:
        path = workdir / f"endpoints-{port}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        command += ["--config", str(path)]
    command += list(extra_args)
    log = (workdir / f"listener-{port}.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"listener exited: {(workdir / f'listener-{port}.log').read_text()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
            return False

        wait_for(up, what="the MLLP listener")
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def send(port: int, message: bytes | str) -> er7.Message:
    """Send one message on a new connection; the ACK parsed."""
    return er7.parse(send_raw(port, message))


def send_raw(port: int, message: bytes | str) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    with mllp.MLLPClient("127.0.0.1", port, timeout=TIMEOUT) as client:
        return client.send(data)


class FakeHospital:
    """An MLLP endpoint that records what it receives and answers AA (or what ``reply`` says)."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[er7.Message] = []
        self.reply_code = "AA"
        self.lock = threading.Lock()
        self.server = mllp.MLLPServer("127.0.0.1", port, self.handle, lambda head: None)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, raw: bytes) -> bytes:
        msg = er7.parse(raw)
        with self.lock:
            self.received.append(msg)
        return ack(msg, self.reply_code)

    def messages(self, kind: str, predicate: Callable[[er7.Message], bool] = lambda m: True) -> list[er7.Message]:
        with self.lock:
            return [m for m in self.received if m.type == kind and predicate(m)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
