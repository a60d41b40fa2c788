"""Bulk Data export jobs (issue 20): one row per ``$export`` kick-off, claimed by workers.

A new table only; nothing existing changes.

Revision ID: 0005_bulk_export
Revises: 0004_owner_param_index
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_bulk_export"
down_revision = "0004_owner_param_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_export_job",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("principal", sa.JSON(), nullable=False),
        sa.Column("transaction_time", sa.DateTime(timezone=False), nullable=False),
        sa.Column("created", sa.DateTime(timezone=False), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=False), nullable=True),
        sa.Column("finished", sa.DateTime(timezone=False), nullable=True),
        sa.Column("expires", sa.DateTime(timezone=False), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_bulk_export_job_status", "bulk_export_job", ["status", "lease_until"])
    op.create_index("ix_bulk_export_job_client", "bulk_export_job", ["client", "status"])


def downgrade() -> None:
    op.drop_table("bulk_export_job")
