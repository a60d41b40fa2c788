"""Benchmark case: Bulk Data export throughput and memory (issue 20; SPEC §8).

Fills a fresh database with a synthetic district (the demo generator's resources, inserted as
current rows directly: the export reads nothing else), then runs one system-level ``$export``
job in this process, as a worker does, and reports resources written per second and the peak
resident memory above the level before the job.  Two sizes, so that "memory flat" shows: the
peak must not grow with the district.  Target: ≥ 20,000 resources/s at 100k residents.

    python -m benchmarks.export_rate --residents 100000            # SQLite, sizes 10k and 100k
    python -m benchmarks.export_rate --sizes 25000,50000                # memory flat: the same peak at both
    python -m benchmarks.export_rate --sizes 20000 --database postgresql+psycopg://postgres@127.0.0.1/bench_export
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert

from fhir_server.auth.principal import ANONYMOUS
from fhir_server.bulk.jobs import JobStore, utc_now
from fhir_server.bulk.kickoff import SYSTEM, ExportRequest
from fhir_server.bulk.runner import ExportRunner
from fhir_server.config import Settings
from fhir_server.core.instants import fhir_instant
from fhir_server.demo import generate_district
from fhir_server.storage.db import Database
from fhir_server.storage.migrate import upgrade
from fhir_server.storage.models import ResourceRow

BATCH = 5000


def fill(database: Database, residents: int) -> int:
    """The district's resources as version-1 current rows; the count."""
    with database.session(write=True) as session:
        session.execute(delete(ResourceRow))
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = {"versionId": "1", "lastUpdated": fhir_instant(now)}
    rows, count = [], 0
    for resource in generate_district(residents=residents).resources():
        content = {"resourceType": resource["resourceType"], "id": resource["id"],
                   "meta": {**stamp, **(resource.get("meta") or {})}, **resource}
        rows.append({"res_type": resource["resourceType"], "res_id": resource["id"], "version": 1,
                     "last_updated": now, "deleted": False, "content": content})
        if len(rows) >= BATCH:
            count += _insert(database, rows)
            rows = []
    return count + (_insert(database, rows) if rows else 0)


def _insert(database: Database, rows: list[dict]) -> int:
    with database.session(write=True) as session:
        session.execute(insert(ResourceRow), rows)
    return len(rows)


class PeakMemory:
    """The peak resident set size of this process while running, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = self.start = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def export_once(database: Database, folder: Path) -> dict:
    settings = Settings(export_dir=str(folder))
    store = JobStore(database)
    job_id = uuid.uuid4().hex
    store.create(job_id, ANONYMOUS, ExportRequest(SYSTEM, "bench"), utc_now())
    runner = ExportRunner(database, settings)
    with PeakMemory() as memory:
        started = time.perf_counter()
        assert runner.step()
        seconds = time.perf_counter() - started
    job = store.get(job_id)
    assert job is not None and job.status == "completed", job
    written = job.progress["written"]
    return {"resources": written, "seconds": round(seconds, 2), "per_second": round(written / seconds),
            "files": len(job.progress["files"]),
            "peak_rss_above_start_mb": round((memory.peak - memory.start) / 2**20, 1)}


def run(residents: int, database_url: str | None = None, sizes: list[int] | None = None) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes or (max(residents // 10, 100), residents):
            url = database_url or f"sqlite:///{Path(tmp) / f'export-{size}.sqlite3'}"
            database = Database(url)
            upgrade(database.engine)
            rows = fill(database, size)
            database.analyze()
            result = export_once(database, Path(tmp) / f"files-{size}")
            results.append({"residents": size, "rows": rows, "database": database.dialect, **result})
            database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10000)
    parser.add_argument("--database", default=None, help="an empty database URL (default: a temporary SQLite file)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated district sizes (default: residents/10 and residents)")
    args = parser.parse_args()
    print("| database | residents | resources exported | seconds | resources/s | files | peak RSS above start |")
    print("|---|---|---|---|---|---|---|")
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    for r in run(args.residents, args.database, sizes):
        print(f"| {r['database']} | {r['residents']:,} | {r['resources']:,} | {r['seconds']} | {r['per_second']:,} "
              f"| {r['files']} | {r['peak_rss_above_start_mb']} MB |")


if __name__ == "__main__":
    main()
