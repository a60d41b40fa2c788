"""The owner index of every search index table leads with (res_type, res_id, param).

A search checks all but its most selective parameter per candidate row, with a correlated
``EXISTS`` on the owner columns.  With an owner index of (res_type, res_id) only, SQLite's
planner preferred the value index for ``status=executed`` (its average rows per code are small,
its real rows for one common code are thousands) and scanned it for every candidate; with the
parameter in the owner index the probe is one or two rows.  Deleting a resource's rows still
uses its (res_type, res_id) prefix.

Revision ID: 0004_owner_param_index
Revises: 0003_fulltext
Create Date: 2026-12-02
"""
from alembic import op

revision = "0004_owner_param_index"
down_revision = "0003_fulltext"
branch_labels = None
depends_on = None

TABLES = ("search_string", "search_token", "search_reference", "search_date", "search_number",
          "search_quantity", "search_uri", "search_composite", "search_text")


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_owner", table_name=table)
        op.create_index(f"ix_{table}_owner", table, ["res_type", "res_id", "param"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_owner", table_name=table)
        op.create_index(f"ix_{table}_owner", table, ["res_type", "res_id"])
