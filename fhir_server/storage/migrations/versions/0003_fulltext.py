"""Full-text search (``_text``, ``_content``): the token table and each database's matcher.

PostgreSQL: a GIN index on ``array_to_tsvector(string_to_array(tokens, ' '))``; queries use
the same expression with a ``tsquery`` of quoted lexemes, so no text-search parser or
dictionary is involved (the tokens, Chinese bigrams included, are computed by the search
layer).  SQLite: an FTS5 table over ``search_text`` (external content) kept in step by
triggers.  Existing resources get their tokens with ``$reindex``.

Revision ID: 0003_fulltext
Revises: 0002_search_index
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_fulltext"
down_revision = "0002_search_index"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_DDL = (
    ("CREATE VIRTUAL TABLE search_text_fts USING fts5(tokens, content='search_text', content_rowid='id', "
     "tokenize='unicode61 remove_diacritics 0')"),
    ("CREATE TRIGGER search_text_ai AFTER INSERT ON search_text BEGIN "
     "INSERT INTO search_text_fts(rowid, tokens) VALUES (new.id, new.tokens); END"),
    ("CREATE TRIGGER search_text_ad AFTER DELETE ON search_text BEGIN "
     "INSERT INTO search_text_fts(search_text_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END"),
    ("CREATE TRIGGER search_text_au AFTER UPDATE ON search_text BEGIN "
     "INSERT INTO search_text_fts(search_text_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
     "INSERT INTO search_text_fts(rowid, tokens) VALUES (new.id, new.tokens); END"),
)
POSTGRES_DDL = (
    "CREATE INDEX ix_search_text_tsv ON search_text USING gin (array_to_tsvector(string_to_array(tokens, ' ')))",
)


def upgrade() -> None:
    op.create_table(
        "search_text",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(16), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
    )
    op.create_index("ix_search_text_owner", "search_text", ["res_type", "res_id"])
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DDL if dialect == "sqlite" else POSTGRES_DDL if dialect == "postgresql" else ():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("search_text_ai", "search_text_ad", "search_text_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_text_fts")
    op.drop_table("search_text")
