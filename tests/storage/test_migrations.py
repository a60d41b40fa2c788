"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import fresh_database_url
from sqlalchemy import text

from fhir_server.storage.db import Database
from fhir_server.storage.index_tables import dialect_specific
from fhir_server.storage.migrate import alembic_config, current_revision, upgrade
from fhir_server.storage.schema import metadata


def test_models_match_migrations(database_url):
    db = Database(database_url)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": False, "include_name": lambda name, *_: not dialect_specific(name)})
        differences = compare_metadata(context, metadata)
    db.dispose()
    assert differences == []


HEAD = "0011_kept_measure_reports"


def downgrade(engine, revision: str) -> None:
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path_factory):
    return fresh_database_url(request.param, request, tmp_path_factory)


def test_0008_search_goes_down_and_up_with_planner_statistics(fresh_url):
    """Rebuilt indexes lose their statistics; the migration gathers them again both ways (without
    them SQLite planned a search by ID number at 100k residents from the wrong index)."""
    db = Database(fresh_url)
    try:
        with db.engine.begin() as conn:  # a few index rows, so ANALYZE has something to count
            conn.execute(text("INSERT INTO search_token (res_type, res_id, param, system, code) VALUES "
                              "('Patient', 'p1', 'identifier', 's', 'c1'), ('Patient', 'p2', 'identifier', 's', 'c2')"))
        downgrade(db.engine, "0007_team_counters")
        assert current_revision(db.engine) == "0007_team_counters"
        upgrade(db.engine, "0008_search")
        assert current_revision(db.engine) == "0008_search"
        if db.dialect == "sqlite":
            with db.engine.connect() as conn:
                analysed = {row[0] for row in conn.execute(text("SELECT idx FROM sqlite_stat1"))}
            assert {"ix_search_token_owner", "ix_search_token_code"} <= analysed
    finally:
        db.dispose()


def test_0009_key_statistics_on_postgresql_only(fresh_url):
    """PostgreSQL gets joint statistics of the index tables' key columns (type, parameter, value),
    gathered at once; going down drops them; SQLite has nothing to change."""
    db = Database(fresh_url)

    def statistics() -> set[str]:
        with db.engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT stxname FROM pg_statistic_ext"))}

    try:
        assert current_revision(db.engine) == HEAD
        if db.dialect != "postgresql":
            downgrade(db.engine, "0008_search")
            upgrade(db.engine)
            assert current_revision(db.engine) == HEAD
            return
        names = {"st_search_token_key", "st_search_reference_key", "st_search_date_key", "st_search_string_key",
                 "st_search_quantity_key"}
        assert names <= statistics()
        downgrade(db.engine, "0008_search")
        assert not names & statistics()
        with db.engine.begin() as conn:  # index rows, so that ANALYZE has joint frequencies to keep
            conn.execute(text("INSERT INTO search_token (res_type, res_id, param, system, code) VALUES "
                              "('Contract', 'c1', 'type', 's', 'family-doctor'), "
                              "('Contract', 'c2', 'type', 's', 'family-doctor'), "
                              "('Patient', 'p1', 'gender', 's', 'male')"))
        upgrade(db.engine)
        assert names <= statistics()
        with db.engine.connect() as conn:  # gathered by the migration itself (autovacuum may be off)
            gathered = {row[0] for row in conn.execute(text(
                "SELECT s.stxname FROM pg_statistic_ext s JOIN pg_statistic_ext_data d ON d.stxoid = s.oid "
                "WHERE d.stxdmcv IS NOT NULL"))}
        assert "st_search_token_key" in gathered
    finally:
        db.dispose()


def test_0010_reference_and_date_indexes_cover_the_district_reads_on_postgresql(fresh_url):
    """On PostgreSQL the reference target index includes id and url and the date high index low
    and res_id (the KPI reads of one type and parameter answered from the index alone); down and
    up again; SQLite has nothing to change."""
    db = Database(fresh_url)

    def definitions() -> dict[str, str]:
        with db.engine.connect() as conn:
            return dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
                                          "('ix_search_reference_target', 'ix_search_date_high')")).all())

    try:
        assert current_revision(db.engine) == HEAD
        if db.dialect == "postgresql":
            found = definitions()
            assert "INCLUDE (id, url)" in found["ix_search_reference_target"]
            assert "INCLUDE (low, res_id)" in found["ix_search_date_high"]
        downgrade(db.engine, "0009_key_statistics")
        if db.dialect == "postgresql":
            assert not any("INCLUDE" in d for d in definitions().values())
        upgrade(db.engine)
        assert current_revision(db.engine) == HEAD
        if db.dialect == "postgresql":
            assert all("INCLUDE" in d for d in definitions().values())
    finally:
        db.dispose()
