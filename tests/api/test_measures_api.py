"""``$evaluate-measure`` over HTTP on SQLite and PostgreSQL, on a demo district in a database of
its own: the numbers equal those the memory twin computes from the same district, and every
refusal is a 4xx OperationOutcome."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from helpers import fresh_database_url

from fhir_server.app import create_app
from fhir_server.cli import main
from fhir_server.demo import generate_district
from fhir_server.familydoctor.measures import MEASURES, Period, all_measures, evaluate
from fhir_server.repository.memory import MemoryRepository
from fhir_server.serving import load_demo
from fhir_server.validation import validate_resource

AS_OF = dt.date(2026, 11, 23)
RESIDENTS = 120
PERIOD = {"periodStart": "2026-01-01", "periodEnd": "2026-11-23"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def district_url(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    load_demo(url, residents=RESIDENTS, as_of=AS_OF)
    return url


@pytest.fixture(scope="module")
def client(district_url):
    app = create_app({"DATABASE_URL": district_url, "TESTING": True})
    c = app.test_client()
    for measure in all_measures():
        assert c.put(f"/fhir/Measure/{measure['id']}", json=measure).status_code in (200, 201)
    yield c
    app.extensions["jiayi.database"].dispose()


@pytest.fixture(scope="module")
def twin():
    """The same district in the memory twin (written directly, no rules): the reference numbers."""
    repo = MemoryRepository()
    with repo.unit_of_work(write=True) as uow:
        for resource in generate_district(residents=RESIDENTS, as_of=AS_OF).resources():
            uow.save("PUT", resource["resourceType"], resource["id"], resource, None)
    return repo


def _numbers(report: dict) -> list:
    group = report["group"][0]
    return [group.get("measureScore"), [(p["code"]["coding"][0]["code"], p["count"]) for p in group["population"]],
            [(s["code"][0]["text"], [(st["value"]["text"], [p["count"] for p in st["population"]])
                                     for st in s.get("stratum", ())]) for s in group["stratifier"]]]


@pytest.mark.parametrize("row", MEASURES, ids=lambda r: r.id)
def test_each_measure_over_http_equals_the_twin(client, twin, row):
    response = client.get(f"/fhir/Measure/{row.id}/$evaluate-measure", query_string=PERIOD)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["resourceType"] == "MeasureReport" and report["measure"] == row.url
    assert [i for i in validate_resource(report, "MeasureReport") if i.is_error] == []
    with twin.unit_of_work() as uow:
        expected = evaluate(uow, row, Period(dt.date(2026, 1, 1), AS_OF))
    assert _numbers(report) == _numbers(expected)


def test_the_demo_district_has_numbers_worth_reading(client):
    report = client.get("/fhir/Measure/jiayi-coverage/$evaluate-measure", query_string=PERIOD).get_json()
    populations = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert populations["denominator"] == RESIDENTS
    assert 0 < populations["numerator"] < RESIDENTS
    teams = [s for s in report["group"][0]["stratifier"] if s["code"][0]["text"] == "team"][0]["stratum"]
    assert any(st["value"]["text"].startswith("CareTeam/") for st in teams)


def test_type_level_with_canonical_and_post_parameters(client):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "measure", "valueCanonical": "https://jiayi.dev/fhir/Measure/jiayi-coverage"},
        {"name": "periodStart", "valueDate": "2026-01-01"}, {"name": "periodEnd", "valueDate": "2026-11-23"},
        {"name": "residentPopulation", "valueInteger": 1000}]}
    report = client.post("/fhir/Measure/$evaluate-measure", json=body).get_json()
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts["denominator"] == 1000
    assert report["group"][0]["measureScore"]["value"] == round(counts["numerator"] / 1000, 4)


@pytest.mark.parametrize(("url", "status", "where"), [
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodEnd=2026-12-31", 400, "periodStart"),
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-13-01&periodEnd=2026-12-31", 400,
     "periodStart"),
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-12-01&periodEnd=2026-01-01", 400,
     "periodEnd"),
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-12-31"
     "&reportType=population", 400, "reportType"),
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-12-31"
     "&reportType=individual", 400, "subject"),
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-12-31"
     "&subject=Organization/x", 400, "subject"),
    ("/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-12-31"
     "&residentPopulation=-3", 400, "residentPopulation"),
    ("/fhir/Measure/no-such-measure/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-12-31", 404, None),
    ("/fhir/Measure/$evaluate-measure?measure=https://example.org/Measure/x&periodStart=2026-01-01"
     "&periodEnd=2026-12-31", 404, "measure"),
])
def test_refusals_are_operation_outcomes(client, url, status, where):
    response = client.get(url)
    assert response.status_code == status
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    if where:
        assert where in outcome["issue"][0].get("expression", [""])[0]


def test_a_measure_without_an_evaluator_is_unprocessable(client):
    foreign = {"resourceType": "Measure", "id": "foreign", "status": "active", "url": "https://example.org/m"}
    assert client.put("/fhir/Measure/foreign", json=foreign).status_code in (200, 201)
    response = client.get("/fhir/Measure/foreign/$evaluate-measure", query_string=PERIOD)
    assert response.status_code == 422
    assert "no evaluator" in response.get_json()["issue"][0]["diagnostics"]


def test_kpi_command_prints_the_table(district_url):
    result = CliRunner().invoke(main, ["kpi", "--database", district_url, "--period-start", "2026-01-01",
                                       "--period-end", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "jiayi-coverage" in result.output and "家庭医生签约服务覆盖率" in result.output
    assert all(row.id in result.output for row in MEASURES)
    one = CliRunner().invoke(main, ["kpi", "--database", district_url, "--period-start", "2026-01-01",
                                    "--period-end", "2026-11-23", "--measure", "jiayi-return-rate", "--json"])
    assert one.exit_code == 0 and '"MeasureReport"' in one.output and "jiayi-coverage" not in one.output
    bad = CliRunner().invoke(main, ["kpi", "--database", district_url, "--period-start", "2026-01-01",
                                    "--period-end", "2026-11-23", "--measure", "nope"])
    assert bad.exit_code != 0 and "unknown measure" in bad.output
