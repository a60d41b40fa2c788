"""The subscription outbox and delivery state (issue 20, SPEC §4 "Subscriptions").

Two new tables, nothing existing changes: ``subscription_outbox`` (notifications waiting for
delivery, written in the transaction of the write that caused them) and
``subscription_state`` (the owner principal and the delivery lease of each subscription).
Downgrading drops notifications not yet delivered.

Revision ID: 0006_subscriptions
Revises: 0004_owner_param_index
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_subscriptions"
down_revision = "0005_bulk_export"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subscription_outbox",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=False), nullable=False),
        sa.Column("due", sa.DateTime(timezone=False), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failure", sa.DateTime(timezone=False), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_subscription_outbox_subscription", "subscription_outbox", ["subscription_id", "seq"])
    op.create_index("ix_subscription_outbox_due", "subscription_outbox", ["due"])
    op.create_table(
        "subscription_state",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("owner", DOCUMENT, nullable=True),
        sa.Column("lease_holder", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=False), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("subscription_state")
    op.drop_index("ix_subscription_outbox_due", table_name="subscription_outbox")
    op.drop_index("ix_subscription_outbox_subscription", table_name="subscription_outbox")
    op.drop_table("subscription_outbox")
