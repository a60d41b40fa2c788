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
