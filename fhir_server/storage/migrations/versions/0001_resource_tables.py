"""Create the resource and resource_version tables.

The current version of each resource and its append-only history.  No data to migrate.

Revision ID: 0001_resource_tables
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_resource_tables"
down_revision = None
branch_labels = None
depends_on = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("res_type", sa.String(64), primary_key=True),
        sa.Column("res_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=False), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", DOCUMENT, nullable=True),
    )
    op.create_index("ix_resource_type_updated", "resource", ["res_type", "last_updated"])
    op.create_table(
        "resource_version",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=False), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", DOCUMENT, nullable=True),
        sa.UniqueConstraint("res_type", "res_id", "version", name="uq_resource_version"),
    )
    op.create_index("ix_resource_version_updated", "resource_version", ["last_updated"])
    op.create_index("ix_resource_version_type_updated", "resource_version", ["res_type", "last_updated"])


def downgrade() -> None:
    op.drop_table("resource_version")
    op.drop_table("resource")
