"""Closed-loop HTTP load: ``clients`` threads, each on its own keep-alive connection, issue
requests until ``max_requests`` are done or ``max_seconds`` have passed; every latency is
recorded.  ``http.client`` rather than ``requests`` so the client's own CPU cost (it shares the
machine with the server) stays small and equal for Jiayi and its floor."""

from __future__ import annotations

import http.client
import itertools
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# method, path (with query), body, extra headers
Request = tuple[str, str, bytes | None, dict[str, str]]
RequestFactory = Callable[[int], Request]


@dataclass
class Measurement:
    latencies: list[float] = field(default_factory=list)  # seconds, one per successful request
    wall: float = 0.0
    errors: int = 0
    first_error: str | None = None
    units: int = 0  # resources handled (ingest and validation count resources, not requests)
    cpu: float | None = None  # server workers' CPU seconds over the measurement
    cpu_units: int | None = None  # what that CPU time was spent on (requests incl. warm-up, or resources)
    retried: int = 0  # ingest with several servers: bundles refused ahead of the ones they need, sent again

    @property
    def count(self) -> int:
        return len(self.latencies)

    def stats(self) -> dict:
        lat = sorted(self.latencies)
        done = self.units or len(lat)
        return {
            "count": len(lat),
            "units": done,
            "errors": self.errors,
            "median_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
            "p95_ms": round(_percentile(lat, 0.95) * 1000, 2) if lat else None,
            "throughput": round(done / self.wall, 1) if self.wall > 0 and lat else None,
            "first_error": self.first_error,
            "server_cpu_ms": round(self.cpu * 1000 / per, 3) if self.cpu is not None and (per := (
                self.cpu_units or done)) else None,
        }


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _no_authorization() -> str | None:
    return None


_authorization: Callable[[], str | None] = _no_authorization


def use_authorization(authorization: Callable[[], str | None]) -> None:
    """Every request of this run carries ``Authorization: <authorization()>`` (``jiayi bench
    --token`` / client credentials: a server with authentication on)."""
    global _authorization
    _authorization = authorization


class Client:
    """One keep-alive HTTP connection to the server at ``base``."""

    def __init__(self, base: str, timeout: float = 120.0) -> None:
        parts = urlsplit(base)
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port, parts.path.rstrip("/")
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        head = {"Accept": "application/fhir+json", **(headers or {})}
        authorization = _authorization()
        if authorization and "Authorization" not in head:
            head["Authorization"] = authorization
        if body is not None:
            head.setdefault("Content-Type", "application/fhir+json")
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=head)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, data
            except (ConnectionError, http.client.HTTPException):
                self.close()  # the server closed an idle keep-alive connection: reconnect once
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_load(base: str | Sequence[str], make: RequestFactory, clients: int, max_requests: int,
             max_seconds: float, warmup: int = 0) -> Measurement:
    """Issue up to ``max_requests`` (within ``max_seconds``) from ``clients`` threads.  With
    several servers (``base`` a list) client ``k`` talks to server ``k mod n``, and the warm-up
    requests go round the servers too."""
    bases = [base] if isinstance(base, str) else list(base)
    result = Measurement()
    counter = itertools.count()
    lock = threading.Lock()
    warm = [Client(b) for b in bases]
    for i in range(warmup):
        warm[i % len(warm)].send(*make(-1 - i))
    for c in warm:
        c.close()
    deadline = time.perf_counter() + max_seconds

    def worker(base: str) -> None:
        client = Client(base)
        try:
            while time.perf_counter() < deadline:
                i = next(counter)
                if i >= max_requests:
                    return
                method, path, body, headers = make(i)
                started = time.perf_counter()
                try:
                    status, data = client.send(method, path, body, headers)
                except OSError as exc:
                    status, data = 0, str(exc).encode()
                elapsed = time.perf_counter() - started
                with lock:
                    if 200 <= status < 300:
                        result.latencies.append(elapsed)
                    else:
                        result.errors += 1
                        result.first_error = result.first_error or f"{status} {method} {path}: {data[:300]!r}"
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(bases[k % len(bases)],), daemon=True) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall = time.perf_counter() - started
    return result
