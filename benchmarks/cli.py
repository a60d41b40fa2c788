"""``jiayi bench`` / ``python -m benchmarks``: one run of the harness (SPEC §8)."""

from __future__ import annotations

import click

from adapters.cli_auth import Auth, auth_options


@click.command(help="Measure Jiayi on a synthetic district against the framework and database floors. "
                    "The servers it starts inherit the environment: with JIAYI_AUTH_JWKS (and JIAYI_AUTH_AUDIENCE, "
                    "the port being random) they need tokens, given with --token / JIAYI_TOKEN or client "
                    "credentials; every request of the run, the import and the HL7 listener use them.")
@click.option("--residents", default=2000, show_default=True, type=int, help="Size of the synthetic district.")
@click.option("--seed", default=20261123, show_default=True, type=int)
@click.option("--database", default="sqlite", show_default=True,
              help="'sqlite' (a fresh file), or a PostgreSQL server URL (a fresh database is created on it "
                   "and dropped afterwards).")
@click.option("--clients", default=4, show_default=True, type=int, help="Concurrent client threads.")
@click.option("--servers", default=1, show_default=True, type=click.IntRange(min=1),
              help="`jiayi serve` processes (each with --workers) on their own ports behind the one "
                   "PostgreSQL database, as if on that many machines; clients and ingest bundles are spread "
                   "over them and the throughput is their combined rate (PostgreSQL only).")
@click.option("--workers", default=2, show_default=True, type=int, help="Server worker processes (gunicorn).")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per worker.")
@click.option("--requests", "requests_", default=2000, show_default=True, type=int,
              help="At most this many requests per case.")
@click.option("--seconds", default=20.0, show_default=True, type=float, help="At most this long per case.")
@click.option("--bundle-size", default=500, show_default=True, type=int, help="Entries per transaction bundle.")
@click.option("--only", multiple=True, help="Run only the cases whose name contains this (repeatable).")
@click.option("--adapter-residents", default=200, show_default=True, type=int,
              help="Public-health import case: resident rows (and 4 follow-ups each); 0 skips it.")
@click.option("--adapter-messages", default=300, show_default=True, type=int,
              help="HL7 v2 MLLP case: ADT and ORU messages each; 0 skips it.")
@click.option("--preload", default=0, show_default=True, type=int,
              help="Write the district's first N resources in-process (no HTTP, validation or rules) and measure "
                   "ingest on the rest: the rate at full size without loading it all over HTTP.")
@click.option("--json", "json_path", default=None, help="Write the JSON here (default benchmarks/results/<time>.json).")
@click.option("--workdir", default=None, help="Keep the database and server logs in this directory.")
@click.option("--keep", is_flag=True, help="Keep the benchmark database afterwards.")
@auth_options
def bench(residents: int, seed: int, database: str, clients: int, servers: int, workers: int, threads: int,
          requests_: int, seconds: float, bundle_size: int, only: tuple[str, ...], adapter_residents: int,
          adapter_messages: int, preload: int,
          json_path: str | None, workdir: str | None, keep: bool, auth: Auth | None) -> None:
    import signal
    import sys

    from benchmarks.authorization import authorize_run
    from benchmarks.report import machine_line, table, write_json
    from benchmarks.run import Options, run

    # SIGTERM unwinds like Ctrl-C: the servers are stopped and a PostgreSQL database dropped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if auth is not None:
        authorize_run(auth)
    options = Options(residents=residents, seed=seed, database=database, clients=clients, workers=workers,
                      threads=threads, requests=requests_, seconds=seconds, bundle_size=bundle_size,
                      keep=keep, workdir=workdir, only=only, adapter_residents=adapter_residents,
                      adapter_messages=adapter_messages, servers=servers, preload=preload)
    try:
        report = run(options, echo=lambda line: click.echo(line, err=True))
    except ValueError as exc:  # an impossible combination of options (--servers 2 on SQLite)
        raise click.UsageError(str(exc)) from None
    click.echo("")
    click.echo(table(report))
    click.echo("")
    click.echo(machine_line(report))
    click.echo(f"results: {write_json(report, json_path)}")
