"""``jiayi import`` and ``jiayi export`` (SPEC Appendix A): the public-health records adapter."""

from __future__ import annotations

import sys
import time

import click

from ..cli_auth import Auth, auth_options
from ..fhir_client import AuthError, ServerRefused, ServerUnavailable
from . import readers, tables

SERVER_ERRORS = (ServerUnavailable, ServerRefused, AuthError, ValueError)


@click.command("import", help="Import a public-health file (个人基本信息表, 签约协议, 团队, 随访记录, 转诊单) "
                              "into the FHIR server through its REST API.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--type", "record_type", required=True, type=click.Choice(tables.RECORD_TYPES))
@click.option("--server", required=True, envvar="JIAYI_SERVER", help="Base URL of the FHIR API, e.g. http://127.0.0.1:8080/fhir")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10000),
              help="Rows per transaction bundle.")
@click.option("--on-error", type=click.Choice(["skip", "reject"]), default="skip", show_default=True,
              help="skip: write the good rows and report the bad ones; reject: write nothing if any row is bad.")
@click.option("--format", "fmt", type=click.Choice(readers.FORMATS), default=None,
              help="Override the format detected from the file extension.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--parallel", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Transaction bundles in flight at once (with --on-error skip); about the server's workers.")
@click.option("--strict-columns", is_flag=True,
              help="Refuse rows with a value in a column the form does not know (default: the column is "
                   "ignored and reported once).")
@auth_options
def import_command(file: str, record_type: str, server: str, batch_size: int, on_error: str, fmt: str | None,
                   quiet: bool, strict_columns: bool, parallel: int, auth: Auth | None) -> None:
    from .importer import import_file

    state: dict = {}
    started = time.perf_counter()

    def show(_item) -> str:
        done = state["bar"].pos if "bar" in state else 0
        seconds = time.perf_counter() - started
        return f"{done / seconds:.0f} rows/s" if seconds > 0 and done else ""

    def on_start(total: int) -> None:
        if not quiet:
            state["bar"] = click.progressbar(length=total, label=f"{record_type}", show_eta=True, show_pos=True,
                                             item_show_func=show, file=sys.stderr)
            state["bar"].__enter__()

    def progress(n: int) -> None:
        if "bar" in state:
            state["bar"].update(n)

    try:
        result = import_file(file, record_type, server, batch_size=batch_size, on_error=on_error, fmt=fmt,
                             progress=progress, on_start=on_start, auth=auth,
                             strict_columns=strict_columns, parallel=parallel)
    except SERVER_ERRORS as exc:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
        raise click.ClickException(str(exc)) from None
    if "bar" in state:
        state["bar"].__exit__(None, None, None)
    for notice in result.notices:
        click.echo(f"  {file}: {notice}", err=True)
    for e in result.errors[:50]:
        click.echo(f"  {e.file}:{e.row} {e.field} {e.value!r}: {e.reason}", err=True)
    if len(result.errors) > 50:
        click.echo(f"  … and {len(result.errors) - 50} more", err=True)
    click.echo(result.summary())
    if result.error_report:
        click.echo(f"error report: {result.error_report}")
    if on_error == "reject" and result.rejected:
        sys.exit(1)
    sys.exit(1 if result.rejected and not (result.created or result.updated or result.unchanged) else 0)


@click.command("export",
               help="Export a public-health form from the FHIR server (CSV with Chinese headers, XLSX, JSON).")
@click.option("--type", "record_type", required=True, type=click.Choice(tables.RECORD_TYPES))
@click.option("--server", required=True, envvar="JIAYI_SERVER")
@click.option("--output", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (inclusive).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (inclusive).")
@click.option("--institution", default=None, help="统一社会信用代码 of the institution.")
@click.option("--format", "fmt", type=click.Choice(readers.FORMATS), default=None)
@auth_options
def export_command(record_type: str, server: str, output: str, date_from, date_to, institution: str | None,
                   fmt: str | None, auth: Auth | None) -> None:
    from .exporter import export_file

    try:
        count = export_file(record_type, server, output, date_from=date_from.date() if date_from else None,
                            date_to=date_to.date() if date_to else None, institution=institution, fmt=fmt, auth=auth)
    except SERVER_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported {count} rows of {tables.TITLES[record_type]} to {output}")


COMMANDS = (import_command, export_command)
