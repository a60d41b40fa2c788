"""Counter rows a write rule reads instead of counting resources (issue 19): ``rule_counter``.

The contract rules keep a team's executed family-doctor contracts per month their term ends
(``jiayi-team-contracts:CareTeam/x``, ``2027-06``), so the capacity check reads a few rows
instead of counting the team's contracts through the search index on every write
(``fhir_server.familydoctor.rules.contract``).  The rows of the contracts already stored are
computed here, with the rule's own function, from their current versions.

Revision ID: 0007_team_counters
Revises: 0004_owner_param_index
Create Date: 2026-12-07
"""
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0007_team_counters"
down_revision = "0006_subscriptions"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    counter = op.create_table(
        "rule_counter",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("bucket", sa.String(32), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    rows = team_load(op.get_bind())
    if rows:
        op.bulk_insert(counter, [{"scope": s, "bucket": b, "value": v} for (s, b), v in sorted(rows.items())])


def team_load(bind) -> Counter:
    """The counter rows of the contracts stored (the rule's function over their current versions)."""
    from fhir_server.familydoctor.rules.contract import team_load_rows
    from fhir_server.storage.documents import from_database

    resource = sa.table("resource", sa.column("res_type"), sa.column("deleted", sa.Boolean), sa.column("content"))
    query = sa.select(resource.c.content).where(resource.c.res_type == "Contract", resource.c.deleted.is_(False))
    total: Counter = Counter()
    result = bind.execute(query.execution_options(yield_per=BATCH))
    for chunk in result.partitions(BATCH):
        contents = (value if isinstance(value, dict) else from_database(value) for (value,) in chunk)
        total.update(team_load_rows(c for c in contents if isinstance(c, dict)))
    return total


def downgrade() -> None:
    op.drop_table("rule_counter")
