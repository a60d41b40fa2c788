"""PostgreSQL settings on a loaded district: ``work_mem``, and what autovacuum did during the load.

``python -m benchmarks.pg_settings --database URL --residents N [--work-mem 4MB --work-mem 64MB]``
takes a database that ``python -m benchmarks --database postgresql://… --keep`` loaded (the same
``--residents`` and ``--seed``: the searches' samples are generated again, not read back), then
for each ``work_mem`` starts one ``jiayi serve`` whose connections carry it (``PGOPTIONS``, read
by libpq when it connects) and measures the read cases of the run (searches, ``$everything``, the
KPI evaluations).  Next to the latency it reports the temporary files PostgreSQL wrote for the
database over each case (``pg_stat_database.temp_files``/``temp_bytes``): a sort or hash that does
not fit in ``work_mem`` spills there.  Finally the index tables' autovacuum/autoanalyze counters
(``pg_stat_user_tables``): whether autovacuum kept the planner statistics up with the load.

The numbers go to the terminal (and ``--json``); nothing is changed in the database.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import click
import orjson

from benchmarks.cases import CASES, Context
from benchmarks.dataset import Dataset
from benchmarks.load import Client, run_load
from benchmarks.servers import jiayi_server
from fhir_server.demo import DEFAULT_AS_OF
from fhir_server.storage.db import create_db_engine

TABLES_SQL = """
SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze, autovacuum_count, autoanalyze_count,
       analyze_count, pg_total_relation_size(relid) AS bytes
FROM pg_stat_user_tables
WHERE left(relname, 7) = 'search_' OR relname IN ('resource', 'resource_version', 'rule_counter')
ORDER BY pg_total_relation_size(relid) DESC
"""


def _temp(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT temp_files, temp_bytes FROM pg_stat_database WHERE datname = current_database()").one()
    return int(row[0]), int(row[1])


@contextlib.contextmanager
def _pgoptions(value: str):
    old = os.environ.get("PGOPTIONS")
    os.environ["PGOPTIONS"] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = old


# district-wide searches: their result list is sorted and stored whole (stable paging), the
# sort that grows with the district and is the first to leave work_mem
WIDE = [
    ("district-wide: Patient?_sort=birthdate", lambda i: ("GET", "/Patient?_sort=birthdate&_count=20", None, {})),
    ("district-wide: Contract?status=executed&_total=accurate",
     lambda i: ("GET", "/Contract?status=executed&_total=accurate&_count=20", None, {})),
]


def measure_work_mem(url: str, samples, work_mems: tuple[str, ...], workdir: Path, requests: int, seconds: float,
                     clients: int, echo) -> list[dict]:
    """One server per ``work_mem``, all started first; each case is then measured on each of them
    back to back, so that a change of the machine's load falls on both alike."""
    engine = create_db_engine(url)
    rows: list[dict] = []
    try:
        with contextlib.ExitStack() as stack:
            servers = {}
            for wm in work_mems:
                with _pgoptions(f"-c work_mem={wm}"):
                    servers[wm] = stack.enter_context(jiayi_server(url, workdir, 2, 8, f"jiayi-{wm}"))
            first = next(iter(servers.values()))
            ctx = Context(samples, Client(first.base), DEFAULT_AS_OF)
            cases = [(c.name, c.build(ctx)) for c in CASES if c.floor == "read" or "KPI" in c.name] + WIDE
            ctx.client.close()
            for name, factory in cases:
                if isinstance(factory, str):
                    continue
                for wm, server in servers.items():
                    files, written = _temp(engine)
                    cpu = server.cpu_seconds()
                    m = run_load(server.base, factory, clients, requests, seconds, warmup=5)
                    m.cpu, m.cpu_units = server.cpu_seconds() - cpu, m.count + m.errors + 5
                    files2, written2 = _temp(engine)
                    row = {"work_mem": wm, "name": name, **m.stats(), "temp_files": files2 - files,
                           "temp_mb": round((written2 - written) / 2**20, 1)}
                    echo(f"work_mem {wm}: {name}: median {row['median_ms']} ms, p95 {row['p95_ms']} ms, "
                         f"CPU {row['server_cpu_ms']} ms, {row['temp_files']} temp files ({row['temp_mb']} MB)"
                         + (f", {m.errors} errors: {m.first_error}" if m.errors else ""))
                    rows.append(row)
    finally:
        engine.dispose()
    return rows


def table_stats(url: str) -> list[dict]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.exec_driver_sql(TABLES_SQL)]
    finally:
        engine.dispose()


@click.command()
@click.option("--database", required=True, help="A PostgreSQL database a `--keep` run loaded.")
@click.option("--residents", required=True, type=int, help="The --residents of that run.")
@click.option("--seed", default=20261123, show_default=True, type=int)
@click.option("--work-mem", "work_mems", multiple=True, default=("4MB", "64MB"), show_default=True)
@click.option("--requests", default=200, show_default=True, type=int)
@click.option("--seconds", default=10.0, show_default=True, type=float)
@click.option("--clients", default=2, show_default=True, type=int)
@click.option("--json", "json_path", default=None)
def main(database: str, residents: int, seed: int, work_mems: tuple[str, ...], requests: int, seconds: float,
         clients: int, json_path: str | None) -> None:
    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    stats_before = table_stats(database)
    started = time.perf_counter()
    dataset = Dataset(residents, seed, DEFAULT_AS_OF, 500)
    for _ in dataset.bundles():  # the samples the cases draw from (ids, teams, BP patients)
        pass
    echo(f"samples of {residents} residents in {time.perf_counter() - started:.0f} s")
    workdir = Path(tempfile.mkdtemp(prefix="jiayi-pg-settings-"))
    rows = measure_work_mem(database, dataset.samples, work_mems, workdir, requests, seconds, clients, echo)
    click.echo("| case | work_mem | median ms | p95 ms | server CPU ms | temp files | temp MB |")
    click.echo("|---|---|---|---|---|---|---|")
    for r in rows:
        click.echo(f"| {r['name']} | {r['work_mem']} | {r['median_ms']} | {r['p95_ms']} | {r['server_cpu_ms']} | "
                   f"{r['temp_files']} | {r['temp_mb']} |")
    click.echo("")
    click.echo("| table | live rows | dead rows | modified since analyze | autovacuums | autoanalyzes | "
               "manual analyzes | MB |")
    click.echo("|---|---|---|---|---|---|---|---|")
    for t in stats_before:
        click.echo(f"| {t['relname']} | {t['n_live_tup']} | {t['n_dead_tup']} | {t['n_mod_since_analyze']} | "
                   f"{t['autovacuum_count']} | {t['autoanalyze_count']} | {t['analyze_count']} | "
                   f"{t['bytes'] / 2**20:.0f} |")
    if json_path:
        Path(json_path).write_bytes(orjson.dumps({"work_mem": rows, "tables": stats_before},
                                                 option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
