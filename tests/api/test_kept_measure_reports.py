"""Whole-district summaries a caller accepts older (``Cache-Control: max-age``), kept and refreshed
in the background (``familydoctor/measures/kept.py``, issue 22), on SQLite and PostgreSQL: the
kept report answers until it is refreshed, a caller without the header always gets the data of
now, and a refresh evaluates only what changed and what someone still asks for."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from helpers import fresh_database_url

from fhir_server.app import create_app
from fhir_server.auth.access import Reach
from fhir_server.familydoctor.measures import BY_ID, KeptReports, Period
from fhir_server.familydoctor.measures import kept as kept_module
from fhir_server.repository.memory import MemoryRepository
from fhir_server.serving import load_demo

AS_OF = dt.date(2026, 11, 23)
COVERAGE = "/fhir/Measure/jiayi-coverage/$evaluate-measure"
PERIOD = {"periodStart": "2026-01-01", "periodEnd": "2026-11-23"}
KEPT = {"Cache-Control": "max-age=300"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    load_demo(url, residents=12, as_of=AS_OF)
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    kept: KeptReports = app.extensions["jiayi.kept_reports"]
    kept.background = False  # refreshed when the test says
    kept.clock = kept.wall = Clock()  # the stored reports' age follows the test's clock too
    yield app.test_client(), kept
    app.extensions["jiayi.database"].dispose()


def _add_resident(client, name: str) -> None:
    assert client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"text": name}]}).status_code == 201


def _residents(response) -> int:
    report = response.get_json()
    return next(p["count"] for p in report["group"][0]["population"] if p["code"]["coding"][0]["code"] == "denominator")


def test_a_kept_summary_answers_until_the_refresh_brings_in_the_change(served):
    client, kept = served
    first = client.get(COVERAGE, query_string=PERIOD, headers=KEPT)
    assert first.status_code == 200 and first.headers["Age"] == "0"
    residents = _residents(first)
    _add_resident(client, "新居民")

    kept.clock.now += 30
    again = client.get(COVERAGE, query_string=PERIOD, headers=KEPT)
    assert _residents(again) == residents and again.get_json()["date"] == first.get_json()["date"]
    assert again.headers["Age"] == "30"
    for fresh in ({}, {"Cache-Control": "no-cache"}):
        assert _residents(client.get(COVERAGE, query_string=PERIOD, headers=fresh)) == residents + 1, fresh

    assert kept.refresh() == 0  # younger than a refresh's interval
    kept.clock.now += kept_module.REFRESH_SECONDS
    assert kept.refresh() == 1
    refreshed = client.get(COVERAGE, query_string=PERIOD, headers=KEPT)
    assert _residents(refreshed) == residents + 1 and refreshed.headers["Age"] == "0"

    kept.clock.now += kept_module.REFRESH_SECONDS + 5
    assert kept.refresh() == 0  # the data are unchanged: noted, not evaluated again
    assert client.get(COVERAGE, query_string=PERIOD, headers=KEPT).headers["Age"] == "0"

    _add_resident(client, "第三位")
    kept.clock.now += 30
    younger = client.get(COVERAGE, query_string=PERIOD, headers={"Cache-Control": "max-age=10"})
    assert _residents(younger) == residents + 2 and younger.headers["Age"] == "0"  # evaluated, and kept
    assert _residents(client.get(COVERAGE, query_string=PERIOD, headers=KEPT)) == residents + 2


def test_only_summaries_of_the_whole_measure_are_kept(served):
    client, _ = served
    listed = client.get(COVERAGE, query_string={**PERIOD, "reportType": "subject-list"}, headers=KEPT)
    assert listed.status_code == 200 and "Age" not in listed.headers
    _add_resident(client, "另一位")
    again = client.get(COVERAGE, query_string={**PERIOD, "reportType": "subject-list"}, headers=KEPT)
    assert len(again.get_json()["contained"]) >= 1 and "Age" not in again.headers


class _Counted:
    """An evaluation that says how often it ran, and for whom."""

    def __init__(self) -> None:
        self.calls: list[Reach | None] = []

    def __call__(self, uow, row, period, *, resident_population, reach) -> dict:
        self.calls.append(reach)
        return {"resourceType": "MeasureReport", "n": len(self.calls)}


def test_each_reach_has_its_own_report_and_one_no_one_asks_for_is_dropped():
    evaluate, clock = _Counted(), Clock()
    kept = KeptReports(MemoryRepository(), evaluate, thread=False, clock=clock)
    row, period = BY_ID["jiayi-coverage"], Period(dt.date(2026, 1, 1), AS_OF)
    doctor, officer = Reach(practitioner="Practitioner/d1"), Reach(region="Organization/o1")
    with kept.repository.unit_of_work() as uow:
        for reach in (doctor, officer, doctor, officer, None):
            kept.answer(uow, row, period, resident_population=None, reach=reach, max_age=300)
    assert evaluate.calls == [doctor, officer, None]

    clock.now += kept_module.REFRESH_SECONDS
    with kept.repository.unit_of_work() as uow:
        kept.answer(uow, row, period, resident_population=None, reach=doctor, max_age=300)  # still asked for
    clock.now += kept_module.ASKED_WITHIN - kept_module.REFRESH_SECONDS + 1
    assert kept.refresh() == 1  # the memory twin has no stamp: the doctor's is evaluated again
    assert evaluate.calls[-1] == doctor
    with kept.repository.unit_of_work() as uow:
        report, age = kept.answer(uow, row, period, resident_population=None, reach=officer, max_age=10_000)
    assert age == 0 and evaluate.calls[-1] == officer  # dropped: not asked within ASKED_WITHIN


def test_the_thread_refreshes_what_is_asked_for():
    evaluate = _Counted()
    kept = KeptReports(MemoryRepository(), evaluate, refresh_seconds=0.05)
    try:
        with kept.repository.unit_of_work() as uow:
            kept.answer(uow, BY_ID["jiayi-coverage"], Period(dt.date(2026, 1, 1), AS_OF), resident_population=None,
                        reach=None, max_age=300)
        deadline = time.monotonic() + 10
        while len(evaluate.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(evaluate.calls) >= 3  # evaluated in the request, then again by the thread
    finally:
        kept.stop()


def test_the_refresh_thread_spends_at_most_a_tenth_of_its_time_refreshing():
    assert kept_module.rest_after(0.5, 10.0) == 10.0
    assert kept_module.rest_after(25.0, 10.0) == pytest.approx(225.0)
    assert kept_module.BUSY_SHARE == 0.1


ONLY_KEPT = {"Cache-Control": "max-age=300, only-if-cached"}


def test_only_if_cached_never_waits_for_an_evaluation(served):
    """Not kept: 504 with Retry-After at once, the summary wanted; the refresh of the wanted ones
    evaluates it (and nothing else), and the next ask gets it."""
    client, kept = served
    missing = client.get(COVERAGE, query_string=PERIOD, headers=ONLY_KEPT)
    assert missing.status_code == 504 and missing.headers["Retry-After"] == str(kept_module.RETRY_SECONDS)
    outcome = missing.get_json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "transient"
    assert client.get(COVERAGE, query_string=PERIOD, headers=ONLY_KEPT).status_code == 504  # still being evaluated

    assert kept.refresh(wanted_only=True) == 1  # asked twice, evaluated once
    found = client.get(COVERAGE, query_string=PERIOD, headers=ONLY_KEPT)
    assert found.status_code == 200 and found.headers["Age"] == "0"
    residents = _residents(found)
    assert kept.refresh(wanted_only=True) == 0

    # older than this caller accepts: wanted again; the data unchanged, the refresh only notes so
    kept.clock.now += 100
    assert client.get(COVERAGE, query_string=PERIOD, headers={"Cache-Control": "max-age=50, only-if-cached"}) \
        .status_code == 504
    assert client.get(COVERAGE, query_string=PERIOD, headers=ONLY_KEPT).headers["Age"] == "100"  # others still may
    assert kept.refresh(wanted_only=True) == 0
    assert client.get(COVERAGE, query_string=PERIOD, headers={"Cache-Control": "max-age=50, only-if-cached"}) \
        .headers["Age"] == "0"

    _add_resident(client, "新来的")
    kept.clock.now += 100
    assert client.get(COVERAGE, query_string=PERIOD, headers={"Cache-Control": "max-age=50, only-if-cached"}) \
        .status_code == 504
    assert kept.refresh(wanted_only=True) == 1
    assert _residents(client.get(COVERAGE, query_string=PERIOD, headers=ONLY_KEPT)) == residents + 1

    # only-if-cached alone accepts any kept summary; with no-cache it is ignored (evaluated now)
    assert client.get(COVERAGE, query_string=PERIOD, headers={"Cache-Control": "only-if-cached"}).status_code == 200
    fresh = client.get(COVERAGE, query_string={**PERIOD, "periodEnd": "2026-11-22"},
                       headers={"Cache-Control": "no-cache, only-if-cached"})
    assert fresh.status_code == 200 and "Age" not in fresh.headers


def test_a_wanted_summary_that_fails_is_wanted_again_by_the_next_ask(caplog):
    calls: list[int] = []

    def failing(uow, row, period, *, resident_population, reach) -> dict:
        calls.append(1)
        raise RuntimeError("the database went away")

    kept = KeptReports(MemoryRepository(), failing, thread=False, clock=Clock())
    row, period = BY_ID["jiayi-coverage"], Period(dt.date(2026, 1, 1), AS_OF)
    assert kept.kept_only(row, period, resident_population=None, reach=None, max_age=300) is None
    assert kept.refresh(wanted_only=True) == 0 and calls == [1]
    assert "evaluating the kept" in caplog.text
    assert kept.refresh(wanted_only=True) == 0 and calls == [1]  # dropped, not tried on every pass
    assert kept.kept_only(row, period, resident_population=None, reach=None, max_age=300) is None
    assert kept.refresh(wanted_only=True) == 0 and calls == [1, 1]


def test_the_thread_evaluates_a_wanted_summary_at_once():
    """Asked with only-if-cached, the summary is evaluated by the thread without waiting for its
    pause between refreshes (an hour here)."""
    evaluate = _Counted()
    kept = KeptReports(MemoryRepository(), evaluate, refresh_seconds=3600)
    row, period = BY_ID["jiayi-coverage"], Period(dt.date(2026, 1, 1), AS_OF)
    try:
        assert kept.kept_only(row, period, resident_population=None, reach=None, max_age=300) is None
        deadline = time.monotonic() + 10
        while kept.kept_only(row, period, resident_population=None, reach=None, max_age=300) is None \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        report, age = kept.kept_only(row, period, resident_population=None, reach=None, max_age=300)
        assert report["n"] == 1 and len(evaluate.calls) == 1
        later = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))  # another period asked later: at once too
        assert kept.kept_only(row, later, resident_population=None, reach=None, max_age=300) is None
        while len(evaluate.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(evaluate.calls) == 2
    finally:
        kept.stop()


def test_workers_share_the_kept_summaries_through_the_database(served):
    """Two serving processes (two KeptReports on one database) and a restart: a summary one of
    them evaluated is answered by the other from the database, a refresh whose data the other
    already counted adopts its report, and a summary no one has seen for a day is dropped."""
    client, first = served
    evaluations: list[str] = []

    def counted(uow, row, period, **kwargs) -> dict:
        evaluations.append(row.url)
        return first.evaluate(uow, row, period, **kwargs)

    second = KeptReports(first.repository, counted, thread=False, clock=first.clock, wall=first.clock)
    row, period = BY_ID["jiayi-coverage"], Period(dt.date(2026, 1, 1), dt.date(2026, 11, 23))
    evaluated = client.get(COVERAGE, query_string=PERIOD, headers=KEPT)  # the first worker evaluates
    assert evaluated.status_code == 200

    first.clock.now += 20
    found = second.kept_only(row, period, resident_population=None, reach=None, max_age=300)
    assert found is not None and found[1] == 20 and evaluations == []  # from the database, not evaluated
    assert found[0]["date"] == evaluated.get_json()["date"]
    restarted = KeptReports(first.repository, counted, thread=False, clock=first.clock, wall=first.clock)
    assert restarted.kept_only(row, period, resident_population=None, reach=None, max_age=300) is not None
    assert restarted.kept_only(row, period, resident_population=None, reach=None, max_age=10) is None  # too old

    _add_resident(client, "又一位")
    first.clock.now += kept_module.REFRESH_SECONDS
    assert first.refresh() == 1  # the first worker counts the new data and stores its report
    assert second.refresh() == 0 and evaluations == []  # the second adopts it
    report, age = second.kept_only(row, period, resident_population=None, reach=None, max_age=300)
    assert age == 0 and _residents_of(report) == _residents(evaluated) + 1

    first.clock.now += kept_module.STORED_FOR + 1
    first.store.prune(first.wall() - kept_module.STORED_FOR)
    assert first.store.read(kept_module.Key(row.url, period, None, None).stored_key()) is None


def _residents_of(report: dict) -> int:
    return next(p["count"] for p in report["group"][0]["population"] if p["code"]["coding"][0]["code"] == "denominator")
