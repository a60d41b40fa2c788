"""Covering indexes for the per-row checks of a search and the key lookups of its result list
(issue 19: typical searches p95 ≤ 30 ms at 100k residents).

A search is driven from one index (its most selective test) and checks every other test per
candidate row with a correlated ``EXISTS`` on the owner index.  With owner indexes of
(res_type, res_id, param) each probe read the index and then the table row for the value
(``code``, ``low``/``high``, the reference's target), and the driving reference index gave the
candidate's ``res_id`` only from the table row too: a team's 1,300 contracts cost ~15,000 table
row reads.  The value columns now sit in the indexes (SQLite reads them "USING COVERING INDEX";
PostgreSQL can answer from the index alone once the visibility map is set, i.e. with autovacuum
on).  The resource table gets (res_type, res_id, deleted, last_updated), so the search's key list
and its default order (``_lastUpdated``) no longer read the rows that hold the documents.

Same names, wider columns, so the plans checked in the tests name the same indexes.

``search_session.key_list``: a stored result list as one text value ("Type/id" a line) instead of
a ``search_result`` row per key (1,100 B-tree inserts for a team's contracts on every first
page with a next page); lists stored before keep their rows and are read from them.  On a
large database the rebuild takes minutes (every index row of these tables is rewritten).

Revision ID: 0008_search
Revises: 0007_team_counters
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_search"
down_revision = "0007_team_counters"
branch_labels = None
depends_on = None

# (index, table, columns before, columns after)
CHANGED = (
    ("ix_search_token_owner", "search_token", ["res_type", "res_id", "param"],
     ["res_type", "res_id", "param", "code", "system"]),
    ("ix_search_token_code", "search_token", ["res_type", "param", "code", "system"],
     ["res_type", "param", "code", "system", "res_id"]),
    ("ix_search_date_owner", "search_date", ["res_type", "res_id", "param"],
     ["res_type", "res_id", "param", "low", "high"]),
    ("ix_search_reference_owner", "search_reference", ["res_type", "res_id", "param"],
     ["res_type", "res_id", "param", "target_type", "target_id"]),
    ("ix_search_reference_target", "search_reference", ["res_type", "param", "target_id", "target_type"],
     ["res_type", "param", "target_id", "target_type", "res_id"]),
    ("ix_search_reference_reverse", "search_reference", ["target_type", "target_id"],
     ["target_type", "target_id", "res_type", "param", "res_id"]),
)
RESOURCE_KEY = ("ix_resource_key_updated", "resource", ["res_type", "res_id", "deleted", "last_updated"])
ANALYSIS_LIMIT = 2000  # SQLite: rows sampled per index, as fhir_server.storage.db's PlannerStatistics does


def _statistics() -> None:
    """Planner statistics for the rebuilt indexes.  Dropping an index drops its statistics and
    creating one adds none: at 100k residents SQLite then planned a search by ID number from the
    wrong index (2 → 156 ms) until the next ANALYZE.  Sampled on SQLite, so it costs seconds."""
    bind = op.get_bind()
    tables = sorted({table for _, table, _, _ in CHANGED} | {RESOURCE_KEY[1]})
    if bind.dialect.name == "sqlite":
        op.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    for table in tables:
        op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    op.add_column("search_session", sa.Column("key_list", sa.Text(), nullable=True))
    for name, table, _, after in CHANGED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after)
    op.create_index(RESOURCE_KEY[0], RESOURCE_KEY[1], RESOURCE_KEY[2])
    _statistics()


def downgrade() -> None:
    op.drop_index(RESOURCE_KEY[0], table_name=RESOURCE_KEY[1])
    for name, table, before, _ in CHANGED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before)
    _statistics()
    with op.batch_alter_table("search_session") as batch:
        batch.drop_column("key_list")
