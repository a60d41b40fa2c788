"""Benchmark case: public-health import rate, end to end (rows per second).

Generates N synthetic 个人基本信息表 rows and 4N 高血压患者随访服务记录表 rows (CSV with
Chinese headers), starts ``jiayi serve`` on a fresh SQLite database (unless ``--server``
is given) and runs the adapter's import (the same code as ``jiayi import``) for both
files, through the REST API in transaction bundles.  Prints and returns rows/s, first
import and re-import of the same files (which must report every row unchanged).

    python benchmarks/import_rate.py --residents 100000          # SPEC §8 scale
    python benchmarks/import_rate.py --residents 2000 --server http://127.0.0.1:8080/fhir

``run(residents, server=None, batch_size=500) -> dict`` is the function for the harness.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.publichealth import import_file, mapping, synthetic, writers
from benchmarks.authorization import environment_auth


@contextlib.contextmanager
def _server(workdir: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "fhir_server.cli", "serve", "--port", str(port),
               "--database", f"sqlite:///{workdir / 'bench.sqlite3'}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
                               env={**os.environ, "XDG_RUNTIME_DIR": str(workdir)}, start_new_session=True)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        for _ in range(300):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{base}/metadata", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def run(residents: int = 1000, server: str | None = None, batch_size: int = 500, parallel: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        people = synthetic.residents(residents, seed=7)
        visits = synthetic.follow_ups(people, 4, "hypertension-follow-up", seed=8)
        writers.write(workdir / "residents.csv", "resident", people, "csv")
        writers.write(workdir / "visits.csv", "hypertension-follow-up", visits, "csv")
        auth = environment_auth()  # jiayi bench --token (JIAYI_TOKEN, client credentials): a secured server
        with (contextlib.nullcontext(server) if server else _server(workdir)) as base:
            started = time.perf_counter()
            load = functools.partial(import_file, server=base, batch_size=batch_size, parallel=parallel,
                                     auth=auth)
            r1 = load(workdir / "residents.csv", "resident")
            r2 = load(workdir / "visits.csv", "hypertension-follow-up")
            seconds = time.perf_counter() - started
            again = time.perf_counter()
            a1 = load(workdir / "residents.csv", "resident")
            a2 = load(workdir / "visits.csv", "hypertension-follow-up")
            again = time.perf_counter() - again
            assert a1.unchanged + a2.unchanged == a1.rows + a2.rows, "a re-import must change nothing"
    rows = r1.rows + r2.rows
    resources = _resources("resident", people) + r1.households + _resources("hypertension-follow-up", visits)
    return {"case": "publichealth-import", "parallel": parallel, "residents": r1.rows, "follow_ups": r2.rows,
            "rejected": r1.rejected + r2.rejected, "seconds": round(seconds, 2),
            "resident_rows_per_s": round(r1.rate), "follow_up_rows_per_s": round(r2.rate),
            "rows_per_s": round(rows / seconds), "resources": resources,
            "resources_per_s": round(resources / seconds), "reimport_rows_per_s": round(rows / again)}


def _resources(record_type: str, records: list[dict]) -> int:
    """The resources the rows write (each object's own entries; shared Organizations and
    Practitioners once)."""
    units = mapping.units(record_type, list(enumerate(records)))
    return sum(len(u.entries) for u in units) + len({key for u in units for key in u.support})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--server", default=None)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=1, help="Bundles in flight (jiayi import --parallel).")
    args = parser.parse_args()
    print(json.dumps(run(args.residents, args.server, args.batch_size, args.parallel)))


if __name__ == "__main__":
    main()
