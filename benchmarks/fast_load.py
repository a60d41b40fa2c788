"""A fast district load for the read benchmarks (``--fast-load``): in-process, through the SQL
repository, without HTTP, validation or the family-doctor rules.

The rows written are the ones a transaction would write (current row, history row, every
search-index and full-text row, by the same indexer), in units of work of ``batch`` resources.
What the rules would derive on write (a team's counters, reminders...) is not written, so a
district loaded this way serves the search, ``$everything`` and KPI cases, not the write cases'
business rules.  The HTTP ingest stays the measure of ingest; this only gets 100k residents
onto the disk in minutes instead of hours.

    python -m benchmarks.fast_load --residents 100000 --database sqlite:////tmp/district.sqlite3
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator

import click
from sqlalchemy import event

from benchmarks.dataset import Dataset
from benchmarks.load import Measurement
from fhir_server.repository.sql import SqlRepository
from fhir_server.storage.db import Database

BATCH = 5000
CACHE_KIB = 2_000_000  # SQLite page cache of the loading connection (2 GB)


def fast_load(url: str, bundles: Iterable[dict], batch: int = BATCH, echo: Callable[[str], None] = print,
              limit: int | None = None) -> Measurement:
    """Write the bundles' resources; with ``limit``, stop at the first bundle boundary at or past
    that many resources, leaving the rest of ``bundles`` (an iterator) unread for the caller."""
    database = Database(url)
    if database.engine.dialect.name == "sqlite":
        # a page cache the size of the index trees: rows go in at random keys, and with the
        # default 2 MB cache every insert reads its pages again once the index outgrows it
        event.listen(database.engine, "connect", lambda conn, _: conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}"))
    repository = SqlRepository(database)  # no hooks: no validation, no rules
    m = Measurement()
    started = time.perf_counter()
    pending: list[dict] = []

    def write() -> None:
        t = time.perf_counter()
        with repository.unit_of_work(write=True) as uow:
            uow.prefetch((r["resourceType"], r["id"]) for r in pending)
            for resource in pending:
                previous = uow.get(resource["resourceType"], resource["id"])
                uow.save("PUT", resource["resourceType"], resource["id"], resource, previous)
        m.latencies.append(time.perf_counter() - t)
        m.units += len(pending)
        pending.clear()
        rate = m.units / (time.perf_counter() - started)
        print(f"\rfast load: {m.units} resources, {rate:.0f}/s", end="", file=sys.stderr, flush=True)

    try:
        for bundle in _until(bundles, limit):
            pending.extend(e["resource"] for e in bundle["entry"])
            if len(pending) >= batch:
                write()
        if pending:
            write()
        print(file=sys.stderr)
        database.analyze()
    finally:
        database.dispose()
    m.wall = time.perf_counter() - started
    echo(f"fast load: {m.units} resources in {m.wall:.0f} s ({m.units / max(m.wall, 1e-9):.0f}/s, in-process)")
    return m


def _until(bundles: Iterable[dict], limit: int | None) -> Iterator[dict]:
    if limit is None:
        yield from bundles
        return
    taken = 0
    iterator = iter(bundles)
    while taken < limit:  # checked before the next bundle is pulled, so none is lost to the caller
        bundle = next(iterator, None)
        if bundle is None:
            return
        taken += len(bundle["entry"])
        yield bundle


@click.command(help="Load a synthetic district in-process (no HTTP, no validation, no rules), for read benchmarks.")
@click.option("--residents", default=2000, show_default=True, type=int)
@click.option("--seed", default=20261123, show_default=True, type=int)
@click.option("--database", required=True, help="SQLAlchemy URL of an empty database (migrated here).")
@click.option("--batch", default=BATCH, show_default=True, type=int, help="Resources per unit of work.")
def main(residents: int, seed: int, database: str, batch: int) -> None:
    from fhir_server.demo import DEFAULT_AS_OF
    from fhir_server.serving import prepare_database

    prepare_database(database)
    fast_load(database, Dataset(residents, seed, DEFAULT_AS_OF, 500).bundles(), batch)


if __name__ == "__main__":
    main()
