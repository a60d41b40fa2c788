"""PostgreSQL: the reference and date indexes that district-wide reads scan carry the columns
those reads return (issues 19, 22).

The KPI Measures read every row of one (type, parameter) of the reference table: a contract's
first subject, its authority, its team, its packages (``DISTINCT ON (res_id) … ORDER BY res_id,
id``, which needs the row's ``id`` and, for a reference without a type, its ``url``).  No index
held ``id`` and ``url``, so each such read was a bitmap heap scan of 44,000–100,000 table rows
(100–130 ms each at 100,000 residents, six of them in one Measure).  ``ix_search_reference_target``
now INCLUDEs ``id`` and ``url`` and answers them from the index alone (once the visibility map is
set: autovacuum, or VACUUM after a bulk load); ``ix_search_date_high`` INCLUDEs ``low`` and
``res_id`` for the contracts-in-force range read of every contract Measure.  Same names and key
columns, so the plans the tests check name the same indexes.

SQLite needs neither: its indexes hold the rowid (``id``) already, and its KPI statements read
one owner at a time.

Revision ID: 0010_covering_includes
Revises: 0009_key_statistics
Create Date: 2026-12-07
"""
from alembic import op

revision = "0010_covering_includes"
down_revision = "0009_key_statistics"
branch_labels = None
depends_on = None

# (index, table, key columns, included columns)
INCLUDED = (
    ("ix_search_reference_target", "search_reference", ["res_type", "param", "target_id", "target_type", "res_id"],
     ["id", "url"]),
    ("ix_search_date_high", "search_date", ["res_type", "param", "high"], ["low", "res_id"]),
)


def _rebuild(include: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, included in INCLUDED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=included if include else [])
    for table in sorted({table for _, table, _, _ in INCLUDED}):
        op.execute(f"ANALYZE {table}")  # a rebuilt index starts without statistics


def upgrade() -> None:
    _rebuild(include=True)


def downgrade() -> None:
    _rebuild(include=False)
