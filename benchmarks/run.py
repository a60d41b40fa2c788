"""One benchmark run: database, district load, cases, floors, memory; returns the report dict."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks import floor as floors
from benchmarks.cases import CASES, FLOOR_CASES, VALIDATIONS, Context
from benchmarks.dataset import Dataset
from benchmarks.load import Client, Measurement, run_load
from benchmarks.machine import machine_info
from benchmarks.servers import ServerGroup, floor_server, jiayi_server, peak_rss_mb, server_group
from fhir_server.demo import DEFAULT_AS_OF
from fhir_server.serving import prepare_database


@dataclass
class Options:
    residents: int = 2000
    seed: int = 20261123
    database: str = "sqlite"
    clients: int = 4
    workers: int = 2
    threads: int = 8
    requests: int = 2000
    seconds: float = 20.0
    bundle_size: int = 500
    keep: bool = False
    workdir: str | None = None
    only: tuple[str, ...] = ()
    adapter_residents: int = 200  # public-health import: this many resident rows and 4 follow-ups each (0: skip)
    adapter_messages: int = 300  # HL7 v2 over MLLP: ADT and ORU messages each (0: skip)
    preload: int = 0  # the district's first resources written in-process (benchmarks.fast_load), not over HTTP
    servers: int = 1  # `jiayi serve` processes (and floor servers) behind the one database, as if on N machines


SQLITE_ONE_SERVER = ("--servers {n} needs PostgreSQL: a SQLite file is served from one machine "
                     "(its workers already share it; raise --workers instead)")


def run(options: Options, echo: Callable[[str], None] = print) -> dict:
    if options.servers < 1:
        raise ValueError("--servers must be at least 1")
    if options.servers > 1 and not options.database.startswith(("postgresql", "postgres:")):
        raise ValueError(SQLITE_ONE_SERVER.format(n=options.servers))
    workdir = Path(options.workdir or tempfile.mkdtemp(prefix="jiayi-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    with bench_database(options.database, workdir, options.keep) as url:
        echo(f"database: {_redact(url)}; district of {options.residents} residents (seed {options.seed})")
        prepare_database(url)
        floors.create_floor_table(url)
        report: dict[str, Any] = {"started": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "command": _command(),
                  "options": {**options.__dict__, "database": _redact(options.database), "only": list(options.only)},
                  "machine": machine_info(url), "results": []}
        dataset = Dataset(options.residents, options.seed, DEFAULT_AS_OF, options.bundle_size)
        bundles = dataset.bundles()
        preloaded = _preload(url, bundles, options.preload, echo)
        n = options.servers
        with (server_group(jiayi_server, url, workdir, options.workers, options.threads, n, "jiayi") as server,
              server_group(floor_server, url, workdir, options.workers, options.threads, n, "floor") as floor):
            if n > 1:
                echo(f"{n} jiayi serve processes behind one database: {', '.join(server.bases)}")
            results = report["results"]
            cpu = server.cpu_seconds()
            ingest = _ingest(server.bases, bundles, echo)
            ingest.cpu = server.cpu_seconds() - cpu
            floor_ingest = _floor_ingest(url, dataset, echo)
            report["analyze_seconds"] = _analyze(url)
            note = f"{options.bundle_size} PUT entries per bundle, " + (
                "1 client" if n == 1 else f"{n} clients, one per server; {ingest.retried} bundles sent again "
                "after the ones before them")
            if preloaded:
                note += f"; the last {ingest.units} resources, after {preloaded} written in-process (--preload)"
                report["preloaded"] = preloaded
            results.append(_row("transaction ingest (resources/s)", "ingest", ingest, note=note))
            results.append(_row("floor: bulk INSERT (rows/s)", None, floor_ingest, is_floor="ingest"))
            report["dataset"] = dict(sorted(dataset.samples.resources.items()))
            ctx = Context(dataset.samples, Client(server.base), DEFAULT_AS_OF)
            for kind, build in FLOOR_CASES.items():
                results.append(_measure(f"floor: bare Flask+SQLAlchemy {kind}", None, floor,
                                        build(ctx), options, echo, is_floor=kind))
            for case in CASES:
                if options.only and not any(o in case.name for o in options.only):
                    continue
                results.append(_measure(case.name, case.floor, server, case.build(ctx), options, echo))
            ctx.client.close()
            for name, of_type, load in VALIDATIONS:
                results.append(_validation(name, of_type, load(), dataset, echo))
            results.extend(_adapters(server.base, workdir, options, echo))
            report["memory"] = _memory(server, floor)
        _ratios(results)
        if "postgresql" in url:  # COPY's work is done by PostgreSQL's backend, not counted
            for r in results:
                if r.get("floor") == "ingest":
                    r.pop("cpu_ratio", None)
    report["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report["machine"]["load_average_end"] = list(os.getloadavg())
    if not options.workdir and not options.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _adapters(base: str, workdir: Path, options: Options, echo) -> list[dict]:
    """The adapters end to end against the same server: a public-health import (rows/s, first
    import and re-import) and HL7 v2 messages through an MLLP listener (messages/s)."""
    from benchmarks import import_rate, mllp_rate

    rows: list[dict] = []
    where = f", against server 1 of {options.servers}" if options.servers > 1 else ""
    if options.adapter_residents and not options.only:
        got = import_rate.run(residents=options.adapter_residents, server=base, batch_size=options.bundle_size)
        note = (f"{got['rows_per_s']} rows/s first import ({got['residents']} residents, {got['follow_ups']} "
                f"follow-ups; {got['resources_per_s']} resources/s), {got['reimport_rows_per_s']} rows/s re-import"
                f"{where}")
        echo(f"public-health import: {note}")
        rows.append({"name": "public-health import (jiayi import, rows/s)", "note": note, "adapter": got})
    if options.adapter_messages and not options.only:
        (workdir / "mllp").mkdir(exist_ok=True)
        for got in mllp_rate.measure_server(base, workdir / "mllp", messages=options.adapter_messages,
                                            connections=options.clients):
            note = (f"{got['messages_per_second']} msg/s ({got['acknowledged']} AA, {got['errors']} other, "
                    f"{got['connections']} connections{where})")
            echo(f"HL7 v2 {got['kind'].upper()} over MLLP: {note}")
            rows.append({"name": f"HL7 v2 {got['kind'].upper()} over MLLP (messages/s)", "note": note, "adapter": got})
    return rows


def _command() -> str:
    """How this run was started, without the machine's paths."""
    if Path(sys.argv[0]).name == "jiayi":
        return " ".join(["jiayi", *sys.argv[1:]])
    return " ".join(["python -m benchmarks", *sys.argv[1:]])


def _row(name: str, floor: str | None, m: Measurement, note: str | None = None, is_floor: str | None = None,
         query: str | None = None) -> dict:
    return {"name": name, "floor": floor, "is_floor": is_floor, "query": query, "note": note, **m.stats()}


def _preload(url: str, bundles: Iterator[dict], resources: int, echo) -> int:
    """With ``--preload N``, the district's first N resources (to a bundle's end) go in without
    HTTP, validation or rules, so that the measured ingest is the rest: the rate at the district's
    full size, in minutes instead of hours.  What the rules would have derived from the preloaded
    part (team counters, reminders...) is missing, as ``benchmarks.fast_load`` says."""
    if not resources:
        return 0
    from benchmarks.fast_load import fast_load

    return fast_load(url, bundles, echo=echo, limit=resources).units


def _ingest(bases: list[str], bundles: Iterator[dict], echo) -> Measurement:
    """The district's transaction bundles, in order: one client, or with several servers one
    client per server taking the next bundle as it is free (bundles then overlap in time).  A
    bundle refused (4xx) while bundles before it are still in flight (a contract whose CareTeam
    is in the bundle before) is sent again once all of those are in; refused then, the run fails."""
    m, lock, numbered = Measurement(), threading.Condition(), enumerate(bundles)
    started = time.perf_counter()
    failure: list[str] = []
    done: set[int] = set()
    waiting = [0]  # the lowest bundle number not yet written

    def load(base: str) -> None:
        client = Client(base, timeout=600)
        try:
            while not failure:
                with lock:
                    number, bundle = next(numbered, (None, None))  # one generator: it samples the district
                if bundle is None:
                    return
                body = orjson.dumps(bundle)
                t = time.perf_counter()
                status, data = _post_bundle(client, body)
                if len(bases) > 1 and 400 <= status < 500 and status != 409:
                    with lock:
                        lock.wait_for(lambda n=number: waiting[0] >= n or bool(failure))
                        m.retried += 1
                    status, data = _post_bundle(client, body)
                with lock:
                    if status != 200:
                        failure.append(f"loading the district failed ({status}): {data[:1000]!r}")
                        lock.notify_all()
                        return
                    m.latencies.append(time.perf_counter() - t)
                    m.units += len(bundle["entry"])
                    done.add(number)
                    while waiting[0] in done:
                        done.discard(waiting[0])
                        waiting[0] += 1
                    lock.notify_all()
                    elapsed = time.perf_counter() - started
                    print(f"\ringest: {m.units} resources, {m.units / elapsed:.0f}/s", end="", file=sys.stderr,
                          flush=True)
        finally:
            client.close()

    if len(bases) == 1:
        load(bases[0])
    else:
        threads = [threading.Thread(target=load, args=(b,), daemon=True) for b in bases]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    m.wall = time.perf_counter() - started
    print(file=sys.stderr)
    if failure:
        raise RuntimeError(failure[0])
    return m


CONCURRENT_RETRIES = 6


def _post_bundle(client: Client, body: bytes) -> tuple[int, bytes]:
    """POST a transaction; again, after a pause, while the server answers 409 because a bundle in
    flight beside it (several servers) got in the way, or 503 because the bundle outran the
    request budget on a loaded machine: nothing of the refused one was written."""
    for attempt in range(CONCURRENT_RETRIES + 1):
        status, data = client.send("POST", "", body, {"Prefer": "return=minimal"})
        retry = (status == 409 and b"concurrent" in data) or status == 503
        if not retry or attempt == CONCURRENT_RETRIES:
            return status, data
        time.sleep(0.1 * 2 ** attempt)
    return status, data


def _analyze(url: str) -> float:
    """Planner statistics after the bulk load, as autovacuum (PostgreSQL) or ``PRAGMA optimize``
    (SQLite) would gather them on a live server; without them PostgreSQL plans a freshly
    loaded table as if it were empty."""
    from sqlalchemy import text

    from fhir_server.storage.db import create_db_engine

    engine = create_db_engine(url)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.execute(text("ANALYZE"))
            conn.commit()
    finally:
        engine.dispose()
    return round(time.perf_counter() - started, 1)


def _floor_ingest(url: str, dataset: Dataset, echo) -> Measurement:
    started, cpu = time.perf_counter(), time.process_time()
    rows, times = floors.bulk_insert(url, dataset.rows())
    m = Measurement(latencies=times, units=rows, wall=time.perf_counter() - started)
    # this process's CPU, less the district's generation (about what it costs to make the rows)
    m.cpu = max(0.0, time.process_time() - cpu - _generation_cpu(dataset))
    echo(f"floor ingest: {rows} rows, {rows / max(sum(times), 1e-9):.0f}/s")
    # the floor's own rate: time spent inserting, not generating the district again
    m.wall = sum(times)
    return m


def _generation_cpu(dataset: Dataset) -> float:
    cpu = time.process_time()
    for _ in dataset.rows():
        pass
    return time.process_time() - cpu


def _measure(name: str, floor: str | None, server: ServerGroup, factory, options: Options, echo,
             is_floor: str | None = None) -> dict:
    base = server.base
    if isinstance(factory, str):
        echo(f"{name}: {factory}")
        return {"name": name, "floor": floor, "is_floor": is_floor, "note": factory}
    probe = Client(base)
    method, path, body, headers = factory(-1)
    status, data = probe.send(method, path, body, headers)
    probe.close()
    if not 200 <= status < 300:
        note = f"n/a (not available: {status} {_diagnostics(data)})"
        echo(f"{name}: {note}")
        return {"name": name, "floor": floor, "is_floor": is_floor, "query": path, "note": note}
    warmup = min(20, options.requests)
    cpu = server.cpu_seconds()
    m = run_load(server.bases, factory, options.clients, options.requests, options.seconds, warmup=warmup)
    m.cpu = server.cpu_seconds() - cpu
    m.cpu_units = m.count + m.errors + warmup
    row = _row(name, floor, m, is_floor=is_floor, query=f"{method} {path}")
    echo(f"{name}: median {row['median_ms']} ms, p95 {row['p95_ms']} ms, {row['throughput']}/s"
         + (f", {m.errors} errors: {m.first_error}" if m.errors else ""))
    return row


def _diagnostics(data: bytes) -> str:
    with contextlib.suppress(Exception):
        issues = orjson.loads(data).get("issue", [])
        return "; ".join(i.get("diagnostics", "") for i in issues)[:200]
    return data[:200].decode(errors="replace")


def _validation(name: str, kind: str | None, validate, dataset: Dataset, echo) -> dict:
    if isinstance(validate, str):
        echo(f"{name}: {validate}")
        return {"name": name, "floor": None, "note": validate}
    sample = [r for r in dataset.samples.validation if kind is None or r["resourceType"] == kind]
    for resource in {r["resourceType"]: r for r in sample}.values():
        validate(resource)  # warm up: per-type validators are compiled on first use
    m = Measurement(units=len(sample))
    started = time.perf_counter()
    for resource in sample:
        t = time.perf_counter()
        validate(resource)
        m.latencies.append(time.perf_counter() - t)
    m.wall = time.perf_counter() - started
    row = _row(name, None, m, note=f"in-process, {len(sample)} district resources")
    echo(f"{name}: {row['throughput']}/s")
    return row


def _memory(server: ServerGroup, floor: ServerGroup) -> dict:
    peaks, floor_peaks = peak_rss_mb(server.worker_pids()), peak_rss_mb(floor.worker_pids())
    memory: dict[str, Any] = {"jiayi_worker_peak_rss_mb": [round(v, 1) for v in peaks.values()],
                              "floor_worker_peak_rss_mb": [round(v, 1) for v in floor_peaks.values()]}
    if len(server.servers) > 1:  # the same workers again, server by server
        memory["jiayi_server_peak_rss_mb"] = [[round(v, 1) for v in peak_rss_mb(s.worker_pids()).values()]
                                              for s in server.servers]
    return memory


def _ratios(results: list[dict]) -> None:
    floors_by_kind = {r["is_floor"]: r.get("throughput") for r in results if r.get("is_floor")}
    cpu_by_kind = {r["is_floor"]: r.get("server_cpu_ms") for r in results if r.get("is_floor")}
    for r in results:
        base = floors_by_kind.get(r.get("floor"))
        if base and r.get("throughput"):
            r["ratio"] = round(r["throughput"] / base, 3)
        base_cpu = cpu_by_kind.get(r.get("floor"))
        if base_cpu and r.get("server_cpu_ms"):
            r["cpu_ratio"] = round(base_cpu / r["server_cpu_ms"], 3)


@contextlib.contextmanager
def bench_database(database: str, workdir: Path, keep: bool) -> Iterator[str]:
    """``sqlite``: a fresh file in the work directory; a PostgreSQL URL: a fresh database on
    that server, dropped afterwards unless ``keep``; any other SQLite URL is used as given."""
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    if not database.startswith(("postgresql", "postgres:")):
        yield database
        return
    from sqlalchemy import create_engine, text

    from fhir_server.storage.db import normalize_url

    admin = create_engine(normalize_url(database), isolation_level="AUTOCOMMIT")
    name = f"jiayi_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url
