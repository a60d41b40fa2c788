"""MLLP throughput: HL7 v2 messages per second through ``jiayi hl7 listen`` into ``jiayi serve``.

``measure(port, kind, messages, connections)`` sends synthetic Chinese ADT^A04 or ORU^R01
messages (each a new resident, so every one is a real write) over ``connections``
parallel MLLP connections and returns the rate of acknowledged (AA) messages.

``measure_server(server_url, workdir)`` starts a listener against a server that is already
running (what the benchmark harness has) and returns both rows (ADT, ORU).

Standalone: ``python benchmarks/mllp_rate.py [--messages 300] [--connections 4]
[--database URL]`` starts a server (SQLite in a temporary directory unless --database)
and a listener, measures ADT and ORU, prints one JSON line per kind and stops both.
``--mllp PORT`` measures an already running listener instead.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.hl7v2 import er7, mllp
from benchmarks.servers import free_port
from fhir_server.core.national_ids import make_id

ROOT = Path(__file__).resolve().parents[1]


def _adt(control: str, number: str) -> bytes:
    return ("\r".join([
        (f"MSH|^~\\&|BENCH|BENCH-CHC|JIAYI|JIAYI|20261201093000+0800||ADT^A04^ADT_A01|{control}|P|2.5||||||"
        "UNICODE UTF-8"),
        "EVN|A04|20261201093000+0800",
        (f"PID|1||{number}^^^&2.16.156.10011.1.3&ISO^NNCHN||王^秀英||19481102|F|||文三路90号^^杭州市^浙江省^310012^CN^H"
        "||^PRN^CP^^^^13900001111|||||||||01^汉族^GB3304"),
        f"PV1|1|O|||||||||||||||||{control}^^^BENCH-CHC^VN",
    ]) + "\r").encode("utf-8")


def _oru(control: str, number: str) -> bytes:
    return ("\r".join([
        f"MSH|^~\\&|BENCH-LIS|BENCH-CHC|JIAYI|JIAYI|20261201093000+0800||ORU^R01^ORU_R01|{control}|P|2.5.1",
        f"PID|1||{number}^^^&2.16.156.10011.1.3&ISO^NNCHN||李^四||19500304|M",
        f"OBR|1||{control}^LIS|24331-1^血脂全套^LN|||20261201080000+0800||||||||||||||||||F",
        "OBX|1|NM|2093-3^总胆固醇^LN||6.2|mmol/L^mmol/L^UCUM|<5.2|H|||F",
        "OBX|2|NM|2571-8^甘油三酯^LN||1.4|mmol/L^mmol/L^UCUM|0.45-1.7|N|||F",
        "OBX|3|NM|1558-6^空腹血糖^LN||7.8|mmol/L^mmol/L^UCUM|3.9-6.1|H|||F",
    ]) + "\r").encode("utf-8")


def _numbers(count: int) -> list[str]:
    run = uuid.uuid4().int
    out = []
    for n in range(count):
        born = dt.date(1930, 1, 1) + dt.timedelta(days=(run + n * 7919) % 30000)
        out.append(make_id("330106", born, (run // 7 + n) % 500, "female"))
    return out


def measure(port: int, kind: str = "adt", messages: int = 300, connections: int = 4,
            host: str = "127.0.0.1") -> dict:
    """Send ``messages`` messages of ``kind`` (adt | oru) over ``connections`` connections."""
    build = {"adt": _adt, "oru": _oru}[kind]
    tag = uuid.uuid4().hex[:10]
    payloads = [build(f"B{tag}{n:06d}", number) for n, number in enumerate(_numbers(messages))]
    shares = [payloads[i::connections] for i in range(connections)]

    def run(share: list[bytes]) -> tuple[int, int]:
        ok = bad = 0
        with mllp.MLLPClient(host, port, timeout=120) as client:
            for payload in share:
                code = er7.parse(client.send(payload)).first("MSA").get(1)
                ok, bad = (ok + 1, bad) if code == "AA" else (ok, bad + 1)
        return ok, bad

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(run, shares))
    seconds = time.perf_counter() - started
    ok = sum(r[0] for r in results)
    return {"name": f"mllp_{kind}_rate", "kind": kind, "messages": messages, "connections": connections,
            "acknowledged": ok, "errors": sum(r[1] for r in results), "seconds": round(seconds, 3),
            "messages_per_second": round(ok / seconds, 1) if seconds else None}


def _wait_tcp(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}")


@contextlib.contextmanager
def running_listener(server_url: str, workdir: Path):
    """``jiayi hl7 listen`` against ``server_url`` on a free loopback port; yields the port."""
    port = free_port()
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", str(port),
               "--server", server_url, "--state", str(workdir / f"hl7-{port}.sqlite3")]
    proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_tcp(port, proc)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def measure_server(server_url: str, workdir: Path, messages: int = 300, connections: int = 4) -> list[dict]:
    """ADT and ORU rates through a fresh listener in front of a running server."""
    with running_listener(server_url, workdir) as port:
        measure(port, "adt", 10, 1)  # warm up
        return [measure(port, kind, messages, connections) for kind in ("adt", "oru")]


@contextlib.contextmanager
def running_stack(workdir: Path, database: str | None = None):
    """``jiayi serve`` + ``jiayi hl7 listen`` on free loopback ports; yields the MLLP port."""
    http, port = free_port(), free_port()
    database = database or f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir)}
    procs = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "serve", "--port", str(http),
                                       "--database", database], cwd=ROOT, env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_tcp(http, procs[0])
        listen = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--port", str(port), "--server",
                  f"http://127.0.0.1:{http}/fhir", "--state", str(workdir / "hl7.sqlite3")]
        procs.append(subprocess.Popen(listen, cwd=ROOT, env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_tcp(port, procs[1])
        yield port
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--mllp", type=int, default=None, help="port of a running listener")
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    if args.mllp:
        for kind in ("adt", "oru"):
            print(json.dumps(measure(args.mllp, kind, args.messages, args.connections)))
        return
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), args.database) as port:
        measure(port, "adt", 10, 1)  # warm up
        for kind in ("adt", "oru"):
            print(json.dumps(measure(port, kind, args.messages, args.connections)))


if __name__ == "__main__":
    main()
