"""What every PostgreSQL connection of the server is set up with."""

from __future__ import annotations

from sqlalchemy import text

from fhir_server.storage.db import PLAN_CACHE_MODE, create_db_engine


def test_statements_are_planned_for_their_own_values(postgres_server_url):
    # a generic plan for a skewed index table walks it whole at district scale (decisions.md)
    engine = create_db_engine(postgres_server_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == PLAN_CACHE_MODE
    finally:
        engine.dispose()


def test_a_deployments_own_options_win(postgres_server_url):
    engine = create_db_engine(postgres_server_url + "?options=-c%20plan_cache_mode%3Dauto")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
    finally:
        engine.dispose()


def test_the_check_of_one_record_is_planned_once_and_the_mode_restored(request, tmp_path_factory):
    """A limited caller's check of one record (``within_reach``) runs with a generic plan (its
    relationship subqueries cost ~12 ms to plan and < 1 ms to run), and the session's mode is
    as before for the rest of the transaction; the answer is the same."""
    from helpers import migrated_url

    from fhir_server.auth.access import Reach
    from fhir_server.repository.sql import SqlRepository
    from fhir_server.storage.db import Database

    database = Database(migrated_url("postgresql", request, tmp_path_factory))
    repo = SqlRepository(database)
    try:
        with repo.unit_of_work(write=True) as uow:
            uow.save("PUT", "Patient", "p1", {"resourceType": "Patient", "id": "p1"}, None)
        with repo.unit_of_work() as uow:
            modes = []
            for _ in range(7):  # past psycopg's prepare threshold: the prepared statement's plan is reused
                assert uow.within_reach("Patient", "p1", Reach(patients=("p1",)))
                assert not uow.within_reach("Patient", "p1", Reach(patients=("p2",)))
                modes.append(uow.index_session().execute(text("SHOW plan_cache_mode")).scalar())
            assert set(modes) == {PLAN_CACHE_MODE}
    finally:
        database.dispose()
