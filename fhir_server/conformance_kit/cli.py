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


@conformance.command("listen", help="Start a sandbox Jiayi (demo district, no authentication) that records "
                                    "the requests of a vendor's client and checks them against a client suite, "
                                    "printing a live checklist. Exit 0 only when every mandatory test was shown.")
@click.option("--suite", required=True, type=click.Choice(["terminal", "his", "public-health"]))
@click.option("--port", default=0, type=int, help="Port of the sandbox (0: a free one, printed at start).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--hl7-port", default=0, type=int, help="Port of the sandbox's MLLP listener (his suite; 0: free).")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["zh", "en"]))
@click.option("--residents", default=50, show_default=True, type=int, help="Size of the demo district.")
@click.option("--output", default="conformance-report", show_default=True, type=click.Path(file_okay=False))
@click.option("--exit-when-complete", is_flag=True, help="Stop as soon as every mandatory test is shown.")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds.")
@click.option("--run-id", default=None, help="Fixes the sandbox's card numbers (S<run-id>, YS<run-id>).")
def listen_command(suite: str, port: int, host: str, hl7_port: int, lang: str, residents: int, output: str,
                   exit_when_complete: bool, timeout: float | None, run_id: str | None) -> None:
    from fhir_server.conformance_kit.listen import listen

    try:
        ok = listen(suite, host, port, Path(output), lang=lang, residents=residents,
                    exit_when_complete=exit_when_complete, timeout=timeout, run_id=run_id, echo=click.echo,
                    hl7_port=hl7_port)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    sys.exit(0 if ok else 1)
