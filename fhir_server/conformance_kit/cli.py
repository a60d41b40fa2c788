"""``jiayi conformance run|listen`` (the vendor conformance kit)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group(help="Conformance kit for vendors: test a FHIR server against the Jiayi IG (run), or test a "
                  "vendor's client against a sandbox Jiayi (listen).")
def conformance() -> None:
    pass


@conformance.command("run", help="Run the IG's TestScripts against a FHIR server; write TestReports, JUnit XML "
                                 "and an HTML report. Exit 0 only when every mandatory test passes.")
@click.option("--target", required=True, help="Base URL of the FHIR API under test (…/fhir).")
@click.option("--token", envvar="JIAYI_TOKEN", default=None, help="Bearer token sent with every request "
              "(env JIAYI_TOKEN).")
@click.option("--suite", default="server", show_default=True, type=click.Choice(["server"]))
@click.option("--only", multiple=True, help="Only these capability groups (or TestScript ids); repeatable.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["zh", "en"]), help="Report language.")
@click.option("--output", default="conformance-report", show_default=True, type=click.Path(file_okay=False),
              help="Directory for report.html, junit.xml and TestReport/.")
def run_command(target: str, token: str | None, suite: str, only: tuple[str, ...], lang: str, output: str) -> None:
    from fhir_server.conformance_kit.run import run

    try:
        outcome = run(target, token, suite, only, lang, Path(output), echo=click.echo)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    sys.exit(0 if outcome.conformant else 1)
