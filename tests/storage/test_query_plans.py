"""How searches reach the database at scale: SQLite gets planner statistics as the data grows,
and a search is driven from its most selective test, the others checked per row."""

from __future__ import annotations

import uuid

from helpers import migrated_url
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite

from fhir_server.repository.sql import SqlRepository
from fhir_server.search import parse_search
from fhir_server.search.sql.builder import filters
from fhir_server.storage import db as db_module
from fhir_server.storage.db import Database
from fhir_server.storage.models import ResourceRow


def _sql(res_type: str, params: list[tuple[str, str]]) -> str:
    request = parse_search(res_type, params)
    query = select(ResourceRow.res_id).where(*filters(request.resource_type, request.types, request.where))
    return str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_sqlite_gets_planner_statistics_once_enough_is_written(request, tmp_path_factory, monkeypatch):
    monkeypatch.setattr(db_module, "SQLITE_FIRST_ANALYZE", 20)
    database = Database(migrated_url("sqlite", request, tmp_path_factory))
    repo = SqlRepository(database)
    try:
        for _ in range(3):
            with repo.unit_of_work(write=True) as uow:
                for _ in range(10):
                    uow.save("POST", "Basic", uuid.uuid4().hex, {"resourceType": "Basic", "code": {"text": "x"}}, None)
        with database.engine.connect() as conn:
            tables = {row[0] for row in conn.execute(text("SELECT tbl FROM sqlite_stat1"))}
        assert {"resource", "search_token"} <= tables
        assert database.statistics.next_at == 40  # refreshed at 20 written; next when that doubles
    finally:
        database.dispose()


def test_analyze_runs_on_either_database(database_url):
    database = Database(database_url)
    try:
        database.analyze()
    finally:
        database.dispose()


def test_the_search_starts_from_the_reference_and_checks_the_date_per_row():
    sql = _sql("Encounter", [("date", "lt2025-03-01"), ("subject", "Patient/p1")])
    assert "res_id IN (SELECT search_reference" in sql
    assert "EXISTS (SELECT" in sql and "search_date_1.res_id = resource.res_id" in sql


def test_a_single_test_keeps_its_index_list_and_alternatives_each_name_the_parameter():
    sql = _sql("Patient", [("identifier", "urn:a|1,urn:a|2")])
    assert "EXISTS" not in sql
    assert sql.count("param = 'identifier'") == 2


def test_the_per_row_check_probes_the_owner_index_even_for_a_common_code(request, tmp_path_factory):
    """``Basic?subject=X&code=common``: the common code's rows are most of the table, so its
    check must read the candidate's own rows (owner index), not scan the code's."""
    database = Database(migrated_url("sqlite", request, tmp_path_factory))
    repo = SqlRepository(database)
    try:
        with repo.unit_of_work(write=True) as uow:
            for i in range(600):
                uow.save("POST", "Basic", f"b{i}", {"resourceType": "Basic", "code": {"coding": [
                    {"system": "urn:x", "code": "common" if i % 10 else f"rare{i}"}]},
                    "subject": {"reference": f"Patient/p{i % 300}"}}, None)
        with database.engine.connect() as conn:
            conn.execute(text("ANALYZE"))  # plain statistics, as an operator or PRAGMA optimize leaves them
            conn.commit()
        request_ = parse_search("Basic", [("subject", "Patient/p7"), ("code", "urn:x|common")])
        query = select(ResourceRow.res_id).where(*filters(request_.resource_type, request_.types, request_.where))
        with database.engine.connect() as conn:
            literal_sql = str(query.compile(database.engine, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(row[-1]) for row in conn.execute(text("EXPLAIN QUERY PLAN " + literal_sql)))
            found = sorted(conn.execute(query).scalars())
        assert "ix_search_token_owner" in plan and "ix_search_token_code" not in plan
        assert found == ["b307", "b7"]

    finally:
        database.dispose()



def test_a_limited_callers_reachable_residents_stay_out_of_the_semi_join_pull_up():
    """The reach condition's ``target_id IN (reachable residents)`` sits under an ``OR`` so that
    PostgreSQL plans it as a hashed SubPlan, built once per statement, instead of pulling it up
    into a semi-join it re-hashes for every candidate row (a doctor's contracts due at 100k:
    0.2–1.1 s that way, 64 ms this way; benchmarks/README.md).  The plan itself needs a district's
    statistics to show the difference, so the statement's shape is what is checked here."""
    from datetime import datetime

    from sqlalchemy.dialects import postgresql

    from fhir_server.auth.access import Reach
    from fhir_server.search.sql.reach import reach_condition

    condition = reach_condition(Reach(practitioner="p1"), "Contract", now=datetime(2026, 12, 7))
    sql = " ".join(str(select(ResourceRow.res_id).where(condition).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})).split())
    membership = sql.index("search_reference_2.target_id IN (SELECT")
    assert sql[membership - 1] == "("  # opens the OR group
    assert "OR false)" in sql[membership:]


def test_the_check_of_one_record_asks_from_its_residents_each_probe_fenced():
    """A read's check (``visible_instance``) asks from each resident the record names, with
    probes PostgreSQL runs per row: every ``EXISTS`` of it is fenced with ``OFFSET 0``, which
    PostgreSQL does not simplify through.  Unfenced, it turned them into a hashed set of every
    resident the doctor reaches, rebuilt on each read (3.5 ms a check at 2,000 residents in a
    generic plan, 0.03 ms fenced; benchmarks/README.md).  Nor does the check build that set."""
    from sqlalchemy.dialects import postgresql

    from fhir_server.auth.access import Reach
    from fhir_server.search.sql.reach import visible_instance

    for reach in (Reach(practitioner="p1"), Reach(related_person="rp1"), Reach(region="o1"),
                  Reach(patients=("a",))):
        for res_type in ("Patient", "Observation", "Contract"):
            sql = " ".join(str(visible_instance(reach, res_type).params(i="x").compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})).split())
            assert sql.count("EXISTS (SELECT 1") == sql.count("OFFSET 0") > 0, (reach, res_type)
            if not reach.region:  # (a region's organizations are a recursive UNION, one resident's either way)
                assert "UNION" not in sql  # the reachable set of a search (reachable_patients) is not built
