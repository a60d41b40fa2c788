"""The dashboard's 13 cards as the server computes them (issue 22): every IG Measure evaluated
once over one period, each in its own unit of work as each card's ``$evaluate-measure`` request
is, in-process (no HTTP, no token: the evaluation only).

    python -m benchmarks.fast_load --residents 2000 --database sqlite:////tmp/d2000.sqlite3
    python -m benchmarks.measure_cards --database sqlite:////tmp/d2000.sqlite3

Prints the wall-clock and CPU ms of each evaluation, in catalog order; the first pays for
reading the district, the others show what a card costs once the district snapshot is shared;
with ``--cold`` every Measure is timed as a first view (the shared snapshot dropped before each).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import click
from sqlalchemy import text

from fhir_server.app import create_app
from fhir_server.familydoctor.measures import MEASURES, Period, evaluate
from fhir_server.familydoctor.measures.shared import forget


@click.command(help="Time the evaluation of every IG Measure, one unit of work each.")
@click.option("--database", required=True)
@click.option("--period-start", default="2026-01-01")
@click.option("--period-end", default="2026-12-31")
@click.option("--rounds", default=1, show_default=True, type=int)
@click.option("--cold", is_flag=True, help="Drop the shared snapshot before every Measure: each is a first view.")
def main(database: str, period_start: str, period_end: str, rounds: int, cold: bool) -> None:
    app = create_app({"DATABASE_URL": database})
    repository = app.extensions["jiayi.repository"]
    period = Period(dt.date.fromisoformat(period_start), dt.date.fromisoformat(period_end))
    forget()  # round 1 is the first view
    for r in range(rounds):
        total_wall = total_cpu = total_db = 0.0
        for row in MEASURES:
            if cold:
                forget()
            wall, cpu = time.perf_counter(), time.process_time()
            with repository.unit_of_work() as uow:
                backend = _backend(uow)
                db = _cpu_ms(backend)
                evaluate(uow, row, period)
                db = _cpu_ms(backend) - db
            wall, cpu = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
            total_wall, total_cpu, total_db = total_wall + wall, total_cpu + cpu, total_db + db
            server = f" {db:>8.0f} ms PostgreSQL CPU" if backend else ""
            print(f"round {r + 1} {row.id:<40} {wall:>8.0f} ms {cpu:>8.0f} ms CPU{server}")
        server = f", {total_db:.0f} ms PostgreSQL CPU" if total_db else ""
        print(f"round {r + 1} all {len(MEASURES)} measures: {total_wall:.0f} ms wall, {total_cpu:.0f} ms CPU{server}")


def _backend(uow) -> int | None:
    """The PostgreSQL backend serving this unit of work (its CPU is the database's share)."""
    session = uow.index_session()
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _cpu_ms(pid: int | None) -> float:
    """utime + stime of a local process, in ms (0 when not local or not PostgreSQL)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
