"""The lookups of the write rules are indexed point queries on both databases (issue 19):
EXPLAIN of each prepared statement shows index searches only, never a scan of a table.

On a loaded PostgreSQL database (ANALYZEd, 300 residents) the referring lookup is an index scan
of ``ix_search_reference_reverse`` (target) and one of ``resource_pkey`` per row found.
PostgreSQL's planner prefers a sequential scan of a small table however good the index, so
there the check runs with ``enable_seqscan`` off: it shows that an index plan exists for
every table the statement reads."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from fhir_server.repository import sql as repository_sql

STATEMENTS = {
    "current version by key (queries.current)": (repository_sql._CURRENT, {"t": "CareTeam", "i": "t1"}),
    "resources referring to a target (queries.referring)": (
        repository_sql._REFERRING, {"t": "Contract", "p": "patient", "tt": "Patient", "ti": "p1"}),
    "a team's load from a month (rule_counter)": (
        repository_sql._COUNTED, {"s": "jiayi-team-contracts:CareTeam/t1", "b": "2026-06"}),
}


def _explain(connection, statement, values) -> str:
    compiled = statement.params(**values).compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        return "\n".join(str(row[-1]) for row in rows)
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}").all())


@pytest.mark.parametrize("name", STATEMENTS)
def test_rule_lookup_is_an_indexed_point_query(database_url, name):
    statement, values = STATEMENTS[name]
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            plan = _explain(connection, statement, values)
    finally:
        engine.dispose()
    if engine.dialect.name == "sqlite":
        lines = [line for line in plan.splitlines() if line.startswith(("SCAN", "SEARCH"))]
        assert lines and all(line.startswith("SEARCH") for line in lines), plan
        assert all("USING" in line for line in lines), plan
        assert "ORDER BY" not in plan, plan  # an index walked for its order is a scan of the type
    else:
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan
