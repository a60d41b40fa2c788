"""``jiayi kpi``: the assessment indicators (Measures) of a district for a period, as a table."""

from __future__ import annotations

import datetime as dt
import json

import click

from fhir_server.config import DEFAULT_DATABASE


@click.command("kpi", help="Evaluate the assessment measures (考核指标) for a period and print them.")
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True)
@click.option("--period-start", "period_start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--period-end", "period_end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--measure", "measures", multiple=True,
              help="Measure id (e.g. jiayi-coverage); repeat for several; default: all.")
@click.option("--resident-population", "resident_population", type=click.IntRange(min=1), default=None,
              help="Residents of the area (replaces the coverage denominator counted from Patients).")
@click.option("--json", "as_json", is_flag=True, help="Print the MeasureReports as a JSON Bundle instead.")
def kpi(database: str, period_start, period_end, measures: tuple[str, ...], resident_population: int | None,
        as_json: bool) -> None:
    from fhir_server.app import create_app
    from fhir_server.familydoctor.measures import BY_ID, MEASURES, Period, evaluate, index_snapshot

    unknown = [m for m in measures if m not in BY_ID]
    if unknown:
        raise click.BadParameter(f"unknown measure(s) {', '.join(unknown)}; known: {', '.join(BY_ID)}",
                                 param_hint="--measure")
    period = Period(period_start.date(), period_end.date())
    if period.end < period.start:
        raise click.BadParameter("--period-end is before --period-start", param_hint="--period-end")
    rows = [BY_ID[m] for m in measures] if measures else list(MEASURES)
    app = create_app({"DATABASE_URL": database})
    try:
        with app.extensions["jiayi.repository"].unit_of_work() as uow:
            snapshot = index_snapshot(uow)
            reports = [(row, evaluate(uow, row, period, resident_population=resident_population,
                                      snapshot=snapshot)) for row in rows]
    finally:
        app.extensions["jiayi.database"].dispose()
    if as_json:
        bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": _now(),
                  "entry": [{"resource": report} for _row, report in reports]}
        click.echo(json.dumps(bundle, ensure_ascii=False, indent=2))
        return
    click.echo(f"Assessment {period.start} – {period.end}")
    click.echo(f"{'measure':<30} {'numerator':>10} {'denominator':>12} {'score':>8} {'target':>7}  indicator")
    for row, report in reports:
        group = report["group"][0]
        counts = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
        score = group.get("measureScore", {}).get("value")
        shown = f"{score:.1%}" if score is not None and row.scoring != "cohort" else str(score if score is not None
                                                                                         else "–")
        target = f"{row.target:.0%}" if row.target is not None else ""
        click.echo(f"{row.id:<30} {counts.get('numerator', counts['initial-population']):>10} "
                   f"{counts.get('denominator', ''):>12} {shown:>8} {target:>7}  {row.title}")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
