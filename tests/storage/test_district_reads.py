"""The district-scale reads answer exactly like the resource-by-resource code they replace, on
SQLite and PostgreSQL, over a generated district plus the edge cases the index cannot decide:

- the KPI measures over the index tables (:class:`IndexSnapshot`) equal the full snapshot's
  MeasureReports (the Python evaluation over every resource), for every measure and several
  periods, including days on which contracts start and end;
- ``Patient/$everything`` from the compartment index equals the per-type searches;
- the typical searches of the benchmark read the indexes they are meant to (EXPLAIN on both
  databases), so a plan regression shows here rather than as a slow benchmark.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import fresh_database_url
from sqlalchemy import event, text

from fhir_server.auth.access import Reach
from fhir_server.core import jiayi_names as jn
from fhir_server.demo import generate_district
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor.measures import MEASURES, DistrictSnapshot, Period, aggregate, evaluate, index_snapshot
from fhir_server.familydoctor.measures.index_snapshot import IndexSnapshot
from fhir_server.interactions.context import FhirRequest
from fhir_server.operations import search_operations
from fhir_server.repository.sql import SqlRepository
from fhir_server.search import parse_search
from fhir_server.serving import prepare_database
from fhir_server.storage.db import Database

AS_OF = dt.date(2026, 11, 23)
RESIDENTS = 150
ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
FAMILY_DOCTOR = {"coding": [{"system": jn.CONTRACT_TYPE, "code": "family-doctor"}]}


def _edge_cases() -> list[dict]:
    """Residents and contracts whose answer the index alone would get wrong."""
    def patient(pid: str, **extra) -> dict:
        resource = {"resourceType": "Patient", "id": pid,
                    "managingOrganization": {"reference": "Organization/edge-org"}, **extra}
        return {k: v for k, v in resource.items() if v is not None}

    def contract(cid: str, subject: str, applies: dict) -> dict:
        return {"resourceType": "Contract", "id": cid, "status": "executed", "type": FAMILY_DOCTOR,
                "subject": [{"reference": f"Patient/{subject}"}], "applies": applies,
                "authority": [{"reference": "Organization/edge-org"}]}

    return [
        patient("edge-dead-date", deceasedDateTime="2026-03-01"),  # alive for the indicators
        patient("edge-dead", deceasedBoolean=True),
        patient("edge-inactive", active=False),
        patient("edge-offset"), patient("edge-no-start"), patient("edge-ends"),
        # starts on 2026-11-23 in Beijing, which is 2026-11-22 in UTC
        contract("edge-c-offset", "edge-offset", {"start": "2026-11-23T00:30:00+08:00"}),
        contract("edge-c-no-start", "edge-no-start", {"end": "2027-01-01"}),
        contract("edge-c-ends", "edge-ends", {"start": "2025-01-01", "end": "2026-11-22T23:30:00-05:00"}),
        contract("edge-c-dead-date", "edge-dead-date", {"start": "2025-01-01", "end": "2027-12-31"}),
        # for the SQL aggregation (issue 19): two contracts in force (the first by id counts), a
        # household contract naming two residents, a contract without authority (the resident's
        # organisation stands in), one terminated and one expired
        patient("edge-two"), patient("edge-head"), patient("edge-member", managingOrganization=None),
        patient("edge-no-org", managingOrganization=None, extension=[
            {"url": n.KEY_POPULATION, "valueCodeableConcept": {"coding": [{"system": n.KEY_POPULATION_CS,
                                                                          "code": "hypertension"}]}}]),
        patient("edge-terminated"), patient("edge-expired"), patient("edge-unsigned"),
        contract("edge-c-two-b", "edge-two", {"start": "2025-01-01", "end": "2027-12-31"}),
        contract("edge-c-two-a", "edge-two", {"start": "2025-06-01"}),
        {**contract("edge-c-household", "edge-head", {"start": "2025-01-01", "end": "2027-12-31"}),
         "subject": [{"reference": "Patient/edge-head"}, {"reference": "Patient/edge-member"}]},
        {k: v for k, v in contract("edge-c-no-authority", "edge-no-org", {"start": "2025-01-01"}).items()
         if k != "authority"},
        {**contract("edge-c-terminated", "edge-terminated", {"start": "2025-01-01", "end": "2026-05-01"}),
         "status": "terminated"},
        contract("edge-c-expired", "edge-expired", {"start": "2024-01-01", "end": "2025-12-31"}),
        # follow-ups within a day of a period's ends, judged on the resource (on PostgreSQL joined as
        # a VALUES list): in Beijing on 2026-11-22 (UTC 11-21/11-22) and on the last day of 2025
        follow_up("edge-fu-1", "edge-two", "2026-11-22T07:30:00+08:00"),
        follow_up("edge-fu-2", "edge-two", "2026-11-22T20:00:00+08:00"),
        follow_up("edge-fu-3", "edge-head", "2025-12-31T23:30:00+08:00"),
        follow_up("edge-fu-4", "edge-no-org", "2026-11-23T00:30:00+08:00"),
    ]


def follow_up(encounter_id: str, patient_id: str, start: str) -> dict:
    """A finished follow-up visit (a follow-up method type) of one resident, an hour long."""
    return {"resourceType": "Encounter", "id": encounter_id, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": jn.FOLLOW_UP_METHOD, "code": "clinic"}]}],
            "subject": {"reference": f"Patient/{patient_id}"}, "period": {"start": start}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def repository(request, tmp_path_factory):
    url = fresh_database_url(request.param, request, tmp_path_factory)
    prepare_database(url)  # the IG's search parameters (key-population, care-team...)
    database = Database(url)
    repo = SqlRepository(database)  # no rules, no validation: the district as generated
    resources = [*generate_district(residents=RESIDENTS, as_of=AS_OF).resources(), *_edge_cases()]
    with repo.unit_of_work(write=True) as uow:
        for resource in resources:
            uow.save("PUT", resource["resourceType"], resource["id"], resource, None)
    database.analyze()
    yield repo
    database.dispose()


PERIODS = [Period(dt.date(2026, 1, 1), AS_OF), Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
           Period(dt.date(2026, 11, 22), dt.date(2026, 11, 22)), Period(dt.date(2024, 6, 1), dt.date(2026, 6, 30))]


def _without_date(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "date"}


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.start}..{p.end}")
def test_every_measure_from_the_index_equals_the_full_snapshot(repository, period):
    with repository.unit_of_work() as uow:
        fast = index_snapshot(uow)
        assert isinstance(fast, IndexSnapshot)
        full = DistrictSnapshot.load(uow)
        for row in MEASURES:
            for report_type in ("summary", "subject-list"):
                got = evaluate(uow, row, period, report_type=report_type, snapshot=fast)
                expected = evaluate(uow, row, period, report_type=report_type, snapshot=full)
                assert _without_date(got) == _without_date(expected), (row.id, report_type)


def _reaches(uow) -> dict[str, Reach]:
    """A public-health officer's region (a community health centre and one without residents), a
    team doctor, two residents, and a reach with nobody in it."""
    session = uow.index_session()
    doctor = session.execute(text(
        "SELECT target_id FROM search_reference WHERE res_type = 'CareTeam' AND param = 'participant' "
        "AND target_type = 'Practitioner' ORDER BY target_id LIMIT 1")).scalar_one()
    return {"region": Reach(region="org-phc-001"), "empty region": Reach(region="org-fin"),
            "doctor": Reach(practitioner=doctor), "residents": Reach(patients=("edge-two", "edge-no-org")),
            "nobody": Reach()}


@pytest.mark.parametrize("period", PERIODS[:2], ids=lambda p: f"{p.start}..{p.end}")
def test_the_sql_counts_within_a_reach_equal_the_snapshot_filtered_by_it(repository, period):
    """Access control holds in SQL: a limited caller's counts, strata and subject lists from the
    aggregation equal the full snapshot's members filtered by :func:`within_reach`."""
    with repository.unit_of_work() as uow:
        fast, full = index_snapshot(uow), DistrictSnapshot.load(uow)
        for name, reach in _reaches(uow).items():
            for row in MEASURES:
                for report_type in ("summary", "subject-list"):
                    got = evaluate(uow, row, period, report_type=report_type, snapshot=fast, reach=reach)
                    expected = evaluate(uow, row, period, report_type=report_type, snapshot=full, reach=reach)
                    assert _without_date(got) == _without_date(expected), (name, row.id, report_type)


def test_individual_reports_from_sql_equal_the_snapshot(repository):
    subjects = ["Patient/edge-two", "Patient/edge-member", "Patient/edge-no-org", "Patient/edge-unsigned",
                "Patient/edge-dead", "Patient/edge-terminated"]
    with repository.unit_of_work() as uow:
        fast, full = index_snapshot(uow), DistrictSnapshot.load(uow)
        subjects += [f"Patient/{p['id']}" for p in uow.scan("Patient")][:10]
        for subject in subjects:
            for row in MEASURES:
                got = evaluate(uow, row, PERIODS[0], report_type="individual", subject=subject, snapshot=fast)
                expected = evaluate(uow, row, PERIODS[0], report_type="individual", subject=subject, snapshot=full)
                assert _without_date(got) == _without_date(expected), (subject, row.id)


def test_the_sql_aggregation_answers_the_district_measures(repository):
    """The resident and per-contract measures are counted in SQL (a few grouped rows), and the
    edge cases land where the snapshot puts them."""
    with repository.unit_of_work() as uow:
        fast = index_snapshot(uow)
        for indicator in aggregate.INDICATORS:
            assert aggregate.members(fast, indicator, PERIODS[0], reach=None, listed=False, subject=None) is not None
        assert aggregate.members(DistrictSnapshot.load(uow), "coverage", PERIODS[0], reach=None, listed=False,
                                 subject=None) is None
        listed = {m.subject: m for m in aggregate.members(fast, "coverage", PERIODS[0], reach=None, listed=True,
                                                          subject=None) or ()}
        assert listed["Patient/edge-two"].strata["team"] == ["none"]  # the edge contracts name no team
        assert listed["Patient/edge-member"].numerator == 1 and listed["Patient/edge-head"].numerator == 1
        assert listed["Patient/edge-unsigned"].numerator == 0
        assert listed["Patient/edge-terminated"].numerator == 0 and listed["Patient/edge-expired"].numerator == 0
        assert listed["Patient/edge-no-org"].strata["institution"] == ["none"]  # no authority, no organisation
        assert listed["Patient/edge-no-org"].strata["key-population"] == ["hypertension"]
        assert listed["Patient/edge-member"].strata["institution"] == ["Organization/edge-org"]
        assert "Patient/edge-dead" not in listed and "Patient/edge-inactive" not in listed


def test_the_edge_cases_count_as_the_snapshot_counts_them(repository):
    with repository.unit_of_work() as uow:
        fast = index_snapshot(uow)
        active = set(fast.active_patients())
        assert "Patient/edge-dead-date" in active
        assert not {"Patient/edge-dead", "Patient/edge-inactive"} & active
        assert fast.contract_in_force("Patient/edge-offset", dt.date(2026, 11, 22)) is None
        assert fast.contract_in_force("Patient/edge-offset", AS_OF) is not None
        assert fast.contract_in_force("Patient/edge-no-start", AS_OF) is None
        assert fast.contract_in_force("Patient/edge-ends", dt.date(2026, 11, 22)) is not None
        assert fast.contract_in_force("Patient/edge-ends", AS_OF) is None


class _PerTypeSearches:
    """The unit of work without its index session: ``$everything`` falls back to a search per type."""

    def __init__(self, uow) -> None:
        self._uow = uow

    def __getattr__(self, name: str):
        if name == "index_session":
            raise AttributeError(name)
        return getattr(self._uow, name)


def _everything(uow, patient_id: str) -> list:
    request = FhirRequest("GET", f"Patient/{patient_id}/$everything", query=[("_count", "1000")],
                          base_url="http://test/fhir")
    response = search_operations.everything(uow, request, "Patient", patient_id)
    assert response.status == 200
    return [e["fullUrl"] for e in response.resource["entry"]]


def test_everything_from_the_compartment_index_equals_the_per_type_searches(repository):
    with repository.unit_of_work() as uow:
        patients = [p["id"] for p in uow.scan("Patient")][:25]
        for pid in patients:
            fast = _everything(uow, pid)
            slow = _everything(_PerTypeSearches(uow), pid)
            assert fast == slow, pid
        assert max(len(_everything(uow, pid)) for pid in patients) > 5


# --- the plans of the typical searches (issue 19): index use, never timing ---------------------

def _typical_searches(session) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """The benchmark's typical searches, with values picked from the district."""
    def one(sql: str) -> str:
        return session.execute(text(sql)).scalar_one()

    team = one("SELECT target_id FROM search_reference WHERE res_type = 'Contract' AND param = 'care-team' "
               "GROUP BY target_id ORDER BY count(*) DESC, target_id LIMIT 1")
    # a hospital's referral Tasks in one status ("requested" in the benchmark; whichever a small district has)
    owner, status = session.execute(text(
        "SELECT r.target_type || '/' || r.target_id, s.code FROM search_reference r JOIN search_token s "
        "ON s.res_type = 'Task' AND s.res_id = r.res_id AND s.param = 'status' "
        "WHERE r.res_type = 'Task' AND r.param = 'owner' ORDER BY s.code = 'requested' DESC, r.target_id, s.code "
        "LIMIT 1")).one()
    number = one(f"SELECT code FROM search_token WHERE res_type = 'Patient' AND param = 'identifier' "
                 f"AND system = '{ID_NUMBER}' ORDER BY code LIMIT 1")
    patient = one("SELECT target_id FROM search_reference WHERE res_type = 'Observation' AND param = 'subject' "
                  "GROUP BY target_id ORDER BY count(*) DESC, target_id LIMIT 1")
    contracts = [("status", "executed"), ("care-team", f"CareTeam/{team}")]
    return {
        "resident by ID number": ("Patient", [("identifier", f"{ID_NUMBER}|{number}")]),
        "contracts in force for a team": ("Contract", contracts),
        "referrals waiting for a hospital": ("Task", [("owner", owner), ("status", status)]),
        "a patient's BP since a date": ("Observation", [("subject", f"Patient/{patient}"),
                                                        ("code", "http://loinc.org|85354-9"),
                                                        ("date", "ge2024-01-01"), ("_sort", "-date")]),
        "contracts + _include": ("Contract", [*contracts, ("_include", "Contract:subject")]),
    }


# SQLite: the index each search is driven from and the per-row checks' owner indexes (its plans
# follow the query's shape); PostgreSQL chooses by its statistics, so there only "no Seq Scan"
EXPECTED_INDEXES = {
    "resident by ID number": {"ix_search_token_code"},
    "contracts in force for a team": {"ix_search_reference_target", "ix_search_token_owner"},
    "referrals waiting for a hospital": {"ix_search_reference_target", "ix_search_token_owner"},
    "a patient's BP since a date": {"ix_search_reference_target", "ix_search_token_owner", "ix_search_date_owner"},
    "contracts + _include": {"ix_search_reference_target", "ix_search_token_owner", "ix_search_reference_owner"},
}

# SQLite: the probes answered from the index alone (migration 0008_search; EXISTS (SELECT 1 ...))
COVERING = {
    "contracts in force for a team": {"ix_search_reference_target", "ix_search_token_owner"},
    "a patient's BP since a date": {"ix_search_token_owner", "ix_search_date_owner"},
}


class _Plans:
    """Every SELECT the search runs, explained on its own connection first (the stored list is
    written from the keys found, with VALUES: nothing to plan)."""

    def __init__(self, engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        self.found: list[tuple[str, list[str]]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        head = statement.lstrip()[:40].upper()
        if executemany or not head.startswith("SELECT") or "search_session" in statement:
            return
        if not self.sqlite:
            cursor.execute("SET LOCAL enable_seqscan = off")  # small tables: ask whether an index *can* serve
        cursor.execute(("EXPLAIN QUERY PLAN " if self.sqlite else "EXPLAIN ") + statement, parameters)
        self.found.append((statement, [str(row[-1] if self.sqlite else row[0]) for row in cursor.fetchall()]))


@pytest.mark.parametrize("name", list(EXPECTED_INDEXES))
def test_the_typical_searches_are_answered_from_the_indexes(repository, name):
    """One statement per search page (plus the stored list when there is a next page, and the
    includes); each reads the indexes named, and none scans the resource or an index table."""
    engine = repository.database.engine
    with repository.unit_of_work() as uow:
        res_type, params = _typical_searches(uow.index_session())[name]
        request = parse_search(res_type, [*params, ("_count", "5")], registry=uow.search_params())
        plans = _Plans(engine)
        event.listen(engine, "before_cursor_execute", plans)
        try:
            page = uow.search(request)
        finally:
            event.remove(engine, "before_cursor_execute", plans)
    assert page.matches, name
    searches = [p for s, p in plans.found if "FROM resource" in s and "search_session" not in s]
    assert searches, plans.found
    text_of = "\n".join(line for _, plan in plans.found for line in plan)
    if plans.sqlite:  # PostgreSQL picks the driving test by its statistics; any index will do there
        for index in EXPECTED_INDEXES[name]:
            assert index in text_of, (name, index, text_of)
        for index in COVERING.get(name, ()):
            assert f"USING COVERING INDEX {index}" in text_of, (name, index, text_of)
    for line in text_of.splitlines():
        words = line.split()
        if plans.sqlite:  # "SCAN resource" alone is a full scan; "SCAN (subquery)" reads a result
            assert not (len(words) >= 2 and words[0] == "SCAN" and words[1].startswith(("resource", "search_"))), line
        else:
            assert "Seq Scan" not in line, line


def _console_searches(session) -> tuple[str, dict[str, tuple[str, list[tuple[str, str]]]]]:
    """The web console's heavy searches (the worklist's), as the busiest team's first doctor."""
    team = session.execute(text(
        "SELECT target_id FROM search_reference WHERE res_type = 'Contract' AND param = 'care-team' "
        "GROUP BY target_id ORDER BY count(*) DESC, target_id LIMIT 1")).scalar_one()
    doctor = session.execute(text(
        f"SELECT target_id FROM search_reference WHERE res_type = 'CareTeam' AND res_id = '{team}' "
        "AND param = 'participant' AND target_type = 'Practitioner' ORDER BY target_id LIMIT 1")).scalar_one()
    due = (AS_OF + dt.timedelta(days=30)).isoformat()
    return doctor, {
        "referral proposals": ("Task", [("status", "draft"), ("code", "http://hl7.org/fhir/CodeSystem/task-code|approve"),
                                        ("owner", f"Practitioner/{doctor}"), ("_sort", "-authored-on")]),
        "contracts due": ("Contract", [("status", "executed"), ("expiry", f"le{due}"),
                                       ("care-team", f"CareTeam/{team}"),
                                       ("_sort", "expiry"), ("_revinclude", "Contract:renews")]),
    }


@pytest.mark.parametrize("name", ["referral proposals", "contracts due"])
def test_the_console_searches_under_a_doctors_reach_scan_no_table(repository, name):
    """The worklist's searches with the doctor's reach condition in them (the teams' contracts in
    force, the referrals to the doctor's organisation): every statement reads indexes only."""
    from dataclasses import replace

    from fhir_server.auth.access import Reach

    engine = repository.database.engine
    with repository.unit_of_work() as uow:
        doctor, searches = _console_searches(uow.index_session())
        res_type, params = searches[name]
        request = parse_search(res_type, [*params, ("_count", "5")], registry=uow.search_params())
        request = replace(request, reach=Reach(practitioner=doctor))
        plans = _Plans(engine)
        event.listen(engine, "before_cursor_execute", plans)
        try:
            uow.search(request)
        finally:
            event.remove(engine, "before_cursor_execute", plans)
    assert any("FROM resource" in s for s, _ in plans.found), plans.found
    for _, plan in plans.found:
        for line in plan:
            words = line.split()
            if plans.sqlite:
                scans_a_table = len(words) >= 2 and words[0] == "SCAN" and words[1].startswith(("resource", "search_"))
                assert not scans_a_table, line
            else:
                assert "Seq Scan" not in line, line
