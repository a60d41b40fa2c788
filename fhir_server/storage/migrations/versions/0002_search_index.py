"""Create the search index tables and the stored-result tables for stable paging.

Existing resources get no index rows from this revision: run ``$reindex`` (the search
layer's ``reindex``) after upgrading a database that already holds data.  The string and uri
value indexes use ``text_pattern_ops`` on PostgreSQL so that prefix ``LIKE`` can use them
whatever the database collation.

Revision ID: 0002_search_index
Revises: 0001_resource_tables
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_search_index"
down_revision = "0001_resource_tables"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SHORT = 255


def _owner_columns() -> list[sa.Column]:
    return [
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(100), nullable=False),
    ]


def _index_table(name: str, *columns: sa.Column) -> None:
    op.create_table(name, *_owner_columns(), *columns)
    op.create_index(f"ix_{name}_owner", name, ["res_type", "res_id"])


def _short(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(SHORT), nullable=nullable)


def upgrade() -> None:
    _index_table("search_string", _short("value", False), sa.Column("exact", sa.Text(), nullable=False))
    op.create_index("ix_search_string_value", "search_string", ["res_type", "param", "value"],
                    postgresql_ops={"value": "text_pattern_ops"})

    _index_table("search_token", _short("system"), _short("code"), _short("text"),
                 _short("type_system"), _short("type_code"))
    op.create_index("ix_search_token_code", "search_token", ["res_type", "param", "code", "system"])
    op.create_index("ix_search_token_system", "search_token", ["res_type", "param", "system"])

    _index_table("search_reference", sa.Column("target_type", sa.String(64)),
                 sa.Column("target_id", sa.String(64)), _short("url"),
                 _short("ident_system"), _short("ident_value"))
    op.create_index("ix_search_reference_target", "search_reference",
                    ["res_type", "param", "target_id", "target_type"])
    op.create_index("ix_search_reference_reverse", "search_reference", ["target_type", "target_id"])
    op.create_index("ix_search_reference_url", "search_reference", ["res_type", "param", "url"])

    _index_table("search_date", sa.Column("low", sa.DateTime(timezone=False), nullable=False),
                 sa.Column("high", sa.DateTime(timezone=False), nullable=False))
    op.create_index("ix_search_date_low", "search_date", ["res_type", "param", "low"])
    op.create_index("ix_search_date_high", "search_date", ["res_type", "param", "high"])

    _index_table("search_number", sa.Column("low", sa.Float(), nullable=False),
                 sa.Column("high", sa.Float(), nullable=False))
    op.create_index("ix_search_number_low", "search_number", ["res_type", "param", "low"])

    _index_table("search_quantity", _short("system"), _short("code"), _short("unit"),
                 sa.Column("low", sa.Float(), nullable=False), sa.Column("high", sa.Float(), nullable=False))
    op.create_index("ix_search_quantity_code", "search_quantity", ["res_type", "param", "code", "low"])
    op.create_index("ix_search_quantity_low", "search_quantity", ["res_type", "param", "low"])

    _index_table("search_uri", _short("value", False))
    op.create_index("ix_search_uri_value", "search_uri", ["res_type", "param", "value"],
                    postgresql_ops={"value": "text_pattern_ops"})

    components = []
    for n in (1, 2, 3):
        components += [_short(f"a{n}"), _short(f"b{n}"), sa.Column(f"low{n}", sa.Float()),
                       sa.Column(f"high{n}", sa.Float())]
    _index_table("search_composite", *components)
    op.create_index("ix_search_composite_first", "search_composite", ["res_type", "param", "b1", "a1"])

    op.create_table(
        "search_session",
        sa.Column("search_id", sa.String(64), primary_key=True),
        sa.Column("created", sa.DateTime(timezone=False), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
    )
    op.create_index("ix_search_session_created", "search_session", ["created"])
    op.create_table(
        "search_result",
        sa.Column("search_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for name in ("search_result", "search_session", "search_composite", "search_uri", "search_quantity",
                 "search_number", "search_date", "search_reference", "search_token", "search_string"):
        op.drop_table(name)
