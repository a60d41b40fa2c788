"""Benchmark case: subscription notification latency under create load (issue 20, SPEC §8).

A fresh database and a real ``jiayi serve``; a rest-hook subscriber (an HTTP server in this
process, on loopback) subscribed to ``Patient?gender=female`` with the resource as payload;
then the create load of the ``create Patient`` case (``--clients`` threads, keep-alive).  The
latency of a notification is from the resource's ``meta.lastUpdated`` (stamped inside the
write transaction, just before its commit: an upper bound of commit → POST) to the moment the
subscriber's POST arrives.  Also reported: the create throughput with and without the
subscription (what matching and the outbox insert cost the writes).  Target: p95 ≤ 500 ms.

    python -m benchmarks.notification_latency --requests 600 --clients 4
    python -m benchmarks.notification_latency --database postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from benchmarks.dataset import ID_NUMBER
from benchmarks.load import Client, run_load
from benchmarks.servers import jiayi_server
from fhir_server.core.national_ids import make_id


class Subscriber:
    """The subscriber's endpoint, in a process of its own (in this one it would take the GIL
    from the load's client threads and slow the very writes it measures)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.notification_latency", "--receiver"],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def arrived(self) -> int:
        return len(self.lines)

    @property
    def latencies(self) -> list[float]:
        return [float(line) for line in self.lines if line.strip() and line.strip() != "-"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def serve_receiver() -> None:
    """``--receiver``: print the endpoint URL, then per POST the seconds from the resource's
    ``meta.lastUpdated`` to its arrival ("-" for a POST without a body)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            now = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if body:
                updated = json.loads(body)["meta"]["lastUpdated"].replace("Z", "+00:00")
                print(f"{now - dt.datetime.fromisoformat(updated).timestamp():.4f}", flush=True)
            else:
                print("-", flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}/hook", flush=True)
    server.serve_forever()


def _patient(i: int, run: int) -> tuple:
    serial = run * 1_000_000 + i + 1
    born = dt.date(1940, 1, 1) + dt.timedelta(days=serial % 20000)
    gender = "female" if i % 2 else "male"
    body = {"resourceType": "Patient", "name": [{"text": "测试居民"}], "gender": gender,
            "birthDate": born.isoformat(),
            "identifier": [{"use": "official", "system": ID_NUMBER,
                            "value": make_id("990199", born, 400 + (serial // 20000) % 99, gender)}]}
    return ("POST", "/Patient", orjson.dumps(body), {"Prefer": "return=minimal"})


def _subscribe(base: str, endpoint: str) -> str:
    body = {"resourceType": "Subscription", "status": "requested", "reason": "benchmark",
            "criteria": "Patient?gender=female",
            "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json"}}
    status, data = Client(base).send("POST", "/Subscription", orjson.dumps(body))
    assert status == 201, data[:300]
    sub_id = json.loads(data)["id"]
    for _ in range(100):
        status, data = Client(base).send("GET", f"/Subscription/{sub_id}")
        if json.loads(data)["status"] == "active":
            time.sleep(2.5)  # every worker process's cache of active subscriptions has seen it
            return sub_id
        time.sleep(0.1)
    raise RuntimeError("the subscription did not become active")


def _measured(server, make, clients: int, requests: int) -> dict:
    """The create load, with the server workers' CPU per request (its delivery thread included:
    what the notifications cost the machine, not only the writes)."""
    cpu = server.cpu_seconds()
    measurement = run_load(server.base, make, clients, requests, 120.0, warmup=20)
    measurement.cpu, measurement.cpu_units = server.cpu_seconds() - cpu, requests + 20
    return measurement.stats()


def _switch_off(base: str, sub_id: str) -> None:
    client = Client(base)
    status, data = client.send("GET", f"/Subscription/{sub_id}")
    body = {**json.loads(data), "status": "off"}
    status, data = client.send("PUT", f"/Subscription/{sub_id}", orjson.dumps(body))
    assert status == 200, data[:300]
    time.sleep(2.5)  # every process's cache of active subscriptions has dropped it


def run(database: str | None = None, requests: int = 600, clients: int = 4, workers: int = 1,
        threads: int = 8) -> dict:
    from fhir_server.serving import prepare_database

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = database or f"sqlite:///{workdir / 'bench.sqlite3'}"
        prepare_database(url)
        with jiayi_server(url, workdir / "server", workers, threads) as server:
            plain = _measured(server, lambda i: _patient(i, 1), clients, requests)
            subscriber = Subscriber()
            sub_id = _subscribe(server.base, subscriber.url)
            loaded = _measured(server, lambda i: _patient(i, 2), clients, requests)
            expected = (requests + 20) // 2
            deadline = time.monotonic() + 60
            while len(subscriber.latencies) < expected and time.monotonic() < deadline:
                time.sleep(0.1)
            _switch_off(server.base, sub_id)  # the same load again without it: the order of runs is not the cause
            after = _measured(server, lambda i: _patient(i, 3), clients, requests)
            subscriber.stop()
    lat = sorted(subscriber.latencies)
    return {
        "database": "postgresql" if database else "sqlite", "clients": clients, "workers": workers,
        "creates_without_subscription": plain, "creates_with_subscription": loaded,
        "creates_after_switching_it_off": after,
        "notifications": len(lat), "expected": expected,
        "latency_median_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
        "latency_p95_ms": round(lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] * 1000, 1) if lat else None,
        "latency_max_ms": round(lat[-1] * 1000, 1) if lat else None,
    }


def _fresh_postgres(admin_url: str):
    from sqlalchemy import create_engine, text

    name = f"jiayi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=None, help="a PostgreSQL server URL (a new database is made on it)")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver()
        return
    database, drop = _fresh_postgres(args.database) if args.database else (None, None)
    try:
        result = run(database, args.requests, args.clients, args.workers)
    finally:
        if drop is not None:
            drop()
    print(json.dumps(result, indent=2))
    w, p = result["creates_with_subscription"], result["creates_without_subscription"]
    a = result["creates_after_switching_it_off"]
    print(f"\n| {result['database']} | {result['notifications']}/{result['expected']} | "
          f"{result['latency_median_ms']} | {result['latency_p95_ms']} | {result['latency_max_ms']} | "
          f"{p['throughput']} | {w['throughput']} | {a['throughput']} | "
          f"{p['server_cpu_ms']} | {w['server_cpu_ms']} | {a['server_cpu_ms']} |")


if __name__ == "__main__":
    main()
