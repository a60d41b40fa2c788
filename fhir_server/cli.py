"""The ``jiayi`` command (SPEC §9, Appendix A)."""

from __future__ import annotations

import importlib
import sys

import click

from adapters.hl7v2.cli import hl7
from adapters.publichealth.cli import export_command, import_command
from fhir_server.cli_auth import token
from fhir_server.cli_kpi import kpi
from fhir_server.config import DEFAULT_DATABASE
from fhir_server.contracts_job import contracts


class LazyGroup(click.Group):
    """A command group that imports some commands only when they are used: ``bench`` lives in
    the ``benchmarks`` package, which the server itself never imports."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy  # command name → "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy={"bench": "benchmarks.cli:bench",
                                   "conformance": "fhir_server.conformance_kit.cli:conformance"},
             help="Jiayi (家医): FHIR R4 server and integration adapter for family-doctor contract services.")
@click.version_option(package_name="jiayi")
def main() -> None:
    pass


@main.command(help="Serve the FHIR API at http://HOST:PORT/fhir.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True,
              help="SQLAlchemy URL: sqlite:///file.db or postgresql://user@host/db (env JIAYI_DATABASE_URL).")
@click.option("--demo", is_flag=True, help="Load a synthetic demo district first (if not loaded yet).")
@click.option("--residents", default=500, show_default=True, type=int, help="Size of the demo district.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes (gunicorn).")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, database: str, demo: bool, residents: int, workers: int, threads: int) -> None:
    import os
    import secrets

    from fhir_server.auth import dev_issuer, development
    from fhir_server.serving import prepare_database, run

    if demo and not os.environ.get("JIAYI_AUTH_JWKS"):  # the development issuer, only when asked for
        os.environ["JIAYI_AUTH_JWKS"] = str(dev_issuer.ensure_keys(database))
        os.environ.setdefault("JIAYI_AUTH_ISSUER", dev_issuer.ISSUER)
        if development.is_loopback(host):  # the demo stays open on loopback; tokens, when sent, count
            os.environ.setdefault("JIAYI_AUTH_OPTIONAL", "1")
        os.environ.setdefault("JIAYI_CONSOLE_DEV_LOGIN", "1")  # the console's sign-in page of the demo's people
    os.environ.setdefault("JIAYI_CONSOLE_SECRET_KEY", secrets.token_hex(32))  # one session key for every worker
    try:
        mode = development.startup_line(host, os.environ.get("JIAYI_AUTH_JWKS"), os.environ.get("JIAYI_AUTH"),
                                        _flag(os.environ.get("JIAYI_AUTH_OPTIONAL")))
    except development.OpenServerRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(mode)
    prepare_database(database, demo=demo, residents=residents)
    click.echo(f"Jiayi FHIR R4 server on http://{host}:{port}/fhir (database {_redact(database)}, "
               f"{workers} worker(s)); web console on http://{host}:{port}/console")
    run(host, port, database, workers=workers, threads=threads)


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or upgrade the schema with the Alembic migrations.")
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True)
def db_upgrade(database: str) -> None:
    from fhir_server.storage.db import Database
    from fhir_server.storage.migrate import current_revision, upgrade

    store = Database(database)
    upgrade(store.engine)
    click.echo(f"schema at revision {current_revision(store.engine)} ({_redact(database)})")


@main.command(help="Load a synthetic district (deterministic from --seed) into the database.")
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True)
@click.option("--residents", default=1000, show_default=True, type=int)
@click.option("--seed", default=20261123, show_default=True, type=int)
@click.option("--as-of", "as_of", default=None, type=click.DateTime(["%Y-%m-%d"]),
              help="The district's 'today' (default: today).")
def demo(database: str, residents: int, seed: int, as_of) -> None:
    from fhir_server.serving import load_demo

    counts = load_demo(database, residents=residents, seed=seed, progress=True,
                       as_of=as_of.date() if as_of else None)
    click.echo("loaded: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))


@main.command(help="Validate a FHIR JSON or XML file (a resource or a Bundle) offline.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--profile", default=None, help="Canonical URL of a profile to validate against.")
def validate(file: str, profile: str | None) -> None:
    from fhir_server.offline import validate_file

    errors = validate_file(file, profile, echo=click.echo)
    sys.exit(1 if errors else 0)


@main.command(help="Run the background work (Bulk Data exports, subscription delivery) beside the servers.")
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True)
def worker(database: str) -> None:
    from fhir_server.serving import run_worker

    run_worker(database, echo=click.echo)


@main.command(help="Load the NDJSON files of a Bulk Data export (a folder, or its manifest) into a database.")
@click.argument("source", type=click.Path(exists=True))
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True)
def load(source: str, database: str) -> None:
    from fhir_server.bulk.load import load_export

    counts = load_export(source, database, echo=click.echo)
    click.echo("loaded: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))


main.add_command(import_command)  # jiayi import / export: the public-health records adapter
main.add_command(export_command)
main.add_command(contracts)
main.add_command(kpi)
main.add_command(hl7)
main.add_command(token)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<database>"


if __name__ == "__main__":
    main()

