"""The kept whole-district MeasureReport summaries (issue 22): ``kept_measure_report``.

A dashboard's summaries were kept in each serving process only: with several workers each
evaluated every card again, and a restart started from nothing.  The table holds each kept
summary with the stamp of the data it counted, so any process answers from it
(``familydoctor/measures/kept.py``).

Revision ID: 0011_kept_measure_reports
Revises: 0010_covering_includes
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011_kept_measure_reports"
down_revision = "0010_covering_includes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_measure_report",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("stamp", sa.String(2000), nullable=True),
        sa.Column("seen", sa.Float, nullable=False),
        sa.Column("report", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )
    op.create_index("ix_kept_measure_report_seen", "kept_measure_report", ["seen"])


def downgrade() -> None:
    op.drop_index("ix_kept_measure_report_seen", table_name="kept_measure_report")
    op.drop_table("kept_measure_report")
