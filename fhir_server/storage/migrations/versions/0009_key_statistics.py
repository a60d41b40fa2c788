"""PostgreSQL: statistics over the index tables' key columns taken together (issue 19).

Every row of an index table is selected by its resource type and parameter first, and then by a
value (a token's system and code, a reference's target type).  PostgreSQL estimates a condition
on several columns by multiplying the columns' own selectivities, as if they were independent;
here they are anything but (``param = 'type'`` with ``code = 'family-doctor'`` is 44,000 rows of
a district of 100,000 residents, estimated at 2).  With estimates of one row the planner joins
whole-district subqueries in nested loops: the KPI aggregations and the focused referral
measures re-read them per row.  Extended statistics (``CREATE STATISTICS … (mcv, dependencies)``)
give the planner the columns' joint frequencies; ANALYZE (autovacuum, or this migration) keeps
them.  Measured on the 100k district (benchmarks/README.md): the 13 Measures' PostgreSQL CPU
16.7 → 10.8 s, the upward-referrals Measure 2.1 → 0.8 s.

SQLite has no such statistics (its planner reads ``sqlite_stat1``, kept by
:class:`fhir_server.storage.db.PlannerStatistics`): nothing to do there.

Revision ID: 0009_key_statistics
Revises: 0008_search
Create Date: 2026-12-07
"""
from alembic import op

revision = "0009_key_statistics"
down_revision = "0008_search"
branch_labels = None
depends_on = None

# (statistics object, index table, the key columns read together)
STATISTICS = (
    ("st_search_token_key", "search_token", ("res_type", "param", "system", "code")),
    ("st_search_reference_key", "search_reference", ("res_type", "param", "target_type")),
    ("st_search_date_key", "search_date", ("res_type", "param")),
    ("st_search_string_key", "search_string", ("res_type", "param")),
    ("st_search_quantity_key", "search_quantity", ("res_type", "param")),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns in STATISTICS:
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (mcv, dependencies) ON {', '.join(columns)} FROM {table}")
    for table in sorted({table for _, table, _ in STATISTICS}):
        op.execute(f"ANALYZE {table}")  # the new statistics are empty until the table is analysed


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
