"""``jiayi contracts renew-due`` — the nightly 自动续约 job (SPEC §4): the same code path as
``POST Contract/$renew-due`` (the operation runs through the router, in one transaction, with
every contract rule), so running it twice renews nothing the second time."""

from __future__ import annotations

import sys

import click

from fhir_server.config import DEFAULT_DATABASE


@click.group("contracts", help="Family-doctor contracts: jobs to run on a schedule.")
def contracts() -> None:
    pass


@contracts.command("renew-due", help="Renew every auto-renew contract ending within the window after --as-of.")
@click.option("--as-of", "as_of", default=None, type=click.DateTime(["%Y-%m-%d"]),
              help="The day the window starts (default: today in China Standard Time).")
@click.option("--window-days", default=30, show_default=True, type=click.IntRange(0, 366))
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True)
def renew_due(as_of, window_days: int, database: str) -> None:
    from fhir_server.app import create_app
    from fhir_server.interactions.context import FhirRequest

    parameters = [{"name": "windowDays", "valueInteger": window_days}]
    if as_of is not None:
        parameters.append({"name": "asOf", "valueDate": as_of.date().isoformat()})
    app = create_app({"DATABASE_URL": database})
    try:
        response = app.extensions["jiayi.router"].handle(FhirRequest(
            "POST", "Contract/$renew-due", body={"resourceType": "Parameters", "parameter": parameters}))
    except Exception as error:  # noqa: BLE001 — a job reports and exits non-zero
        click.echo(f"renew-due failed: {error}", err=True)
        sys.exit(1)
    finally:
        app.extensions["jiayi.database"].dispose()
    body = response.resource or {}
    for p in body.get("parameter", []):
        if p["name"] == "renewed":
            click.echo(f"renewed {p['valueReference']['reference']}")
        elif p["name"] == "skipped":
            parts = {q["name"]: q for q in p["part"]}
            click.echo(f"skipped {parts['contract']['valueReference']['reference']}: {parts['reason']['valueString']}")
    count = next(p["valueInteger"] for p in body.get("parameter", []) if p["name"] == "count")
    click.echo(f"{count} contract(s) renewed")
