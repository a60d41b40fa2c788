"""Search index tables: one table per search-parameter type, plus the stored result lists
that make paging stable.

Every index table carries the owning resource (``res_type``, ``res_id``) and the parameter
``code``; the search layer replaces all rows of a resource on every write.  Two kinds of
indexes: (res_type, param, value...) for the query conditions, and (res_type, res_id, param) for
checking one resource's values and replacing its rows.  Values are what the search layer computed (normalised strings,
ranges as low/high); nothing here knows FHIR semantics.

Dates are naive UTC datetimes; ranges are half-open [low, high).  Numbers and quantities are
closed [low, high] (a Range indexes its bounds, a plain value has low == high).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, Float, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from fhir_server.storage.models import Base, Sequence64

SHORT = 255  # normalised values are cut to this many characters


class _IndexRow:
    """Columns shared by every index table."""

    id: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    res_type: Mapped[str] = mapped_column(String(64), nullable=False)
    res_id: Mapped[str] = mapped_column(String(64), nullable=False)
    param: Mapped[str] = mapped_column(String(100), nullable=False)


def _owner_index(table: str, *values: str) -> Index:
    """A resource's rows of one parameter (the per-row checks of a search; a resource's rows for
    replacing them by the (res_type, res_id) prefix); ``values``: the columns a per-row check
    reads, so it is answered from the index alone (migration 0008_search)."""
    return Index(f"ix_{table}_owner", "res_type", "res_id", "param", *values)


class StringIndex(_IndexRow, Base):
    __tablename__ = "search_string"
    value: Mapped[str] = mapped_column(String(SHORT), nullable=False)  # lower-cased, accents removed
    exact: Mapped[str] = mapped_column(Text, nullable=False)  # as written, for :exact
    __table_args__ = (
        _owner_index("search_string"),
        Index("ix_search_string_value", "res_type", "param", "value",
              postgresql_ops={"value": "text_pattern_ops"}),
    )


class TokenIndex(_IndexRow, Base):
    __tablename__ = "search_token"
    system: Mapped[str | None] = mapped_column(String(SHORT))
    code: Mapped[str | None] = mapped_column(String(SHORT))
    text: Mapped[str | None] = mapped_column(String(SHORT))  # normalised display/text, for :text
    type_system: Mapped[str | None] = mapped_column(String(SHORT))  # Identifier.type, for :of-type
    type_code: Mapped[str | None] = mapped_column(String(SHORT))
    __table_args__ = (
        _owner_index("search_token", "code", "system"),
        Index("ix_search_token_code", "res_type", "param", "code", "system", "res_id"),
        Index("ix_search_token_system", "res_type", "param", "system"),
    )


class ReferenceIndex(_IndexRow, Base):
    __tablename__ = "search_reference"
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(SHORT))  # absolute / canonical / urn references
    ident_system: Mapped[str | None] = mapped_column(String(SHORT))  # Reference.identifier
    ident_value: Mapped[str | None] = mapped_column(String(SHORT))
    __table_args__ = (
        _owner_index("search_reference", "target_type", "target_id"),
        # PostgreSQL: with id and url a (type, parameter)'s rows are read from the index alone (migration 0010)
        Index("ix_search_reference_target", "res_type", "param", "target_id", "target_type", "res_id",
              postgresql_include=["id", "url"]),
        Index("ix_search_reference_reverse", "target_type", "target_id", "res_type", "param", "res_id"),
        Index("ix_search_reference_url", "res_type", "param", "url"),
    )


class DateIndex(_IndexRow, Base):
    __tablename__ = "search_date"
    low: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    high: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    __table_args__ = (
        _owner_index("search_date", "low", "high"),
        Index("ix_search_date_low", "res_type", "param", "low"),
        Index("ix_search_date_high", "res_type", "param", "high", postgresql_include=["low", "res_id"]),
    )


class NumberIndex(_IndexRow, Base):
    __tablename__ = "search_number"
    low: Mapped[float] = mapped_column(Float, nullable=False)
    high: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (
        _owner_index("search_number"),
        Index("ix_search_number_low", "res_type", "param", "low"),
    )


class QuantityIndex(_IndexRow, Base):
    __tablename__ = "search_quantity"
    system: Mapped[str | None] = mapped_column(String(SHORT))
    code: Mapped[str | None] = mapped_column(String(SHORT))
    unit: Mapped[str | None] = mapped_column(String(SHORT))
    low: Mapped[float] = mapped_column(Float, nullable=False)
    high: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (
        _owner_index("search_quantity"),
        Index("ix_search_quantity_code", "res_type", "param", "code", "low"),
        Index("ix_search_quantity_low", "res_type", "param", "low"),
    )


class UriIndex(_IndexRow, Base):
    __tablename__ = "search_uri"
    value: Mapped[str] = mapped_column(String(SHORT), nullable=False)
    __table_args__ = (
        _owner_index("search_uri"),
        Index("ix_search_uri_value", "res_type", "param", "value",
              postgresql_ops={"value": "text_pattern_ops"}),
    )


class CompositeIndex(_IndexRow, Base):
    """One row per combination of component values; each component is (a, b, low, high):
    token → (system, code), string → (value), reference → (type, id), quantity/number/date →
    (system, code, low, high) with dates as epoch seconds."""

    __tablename__ = "search_composite"
    a1: Mapped[str | None] = mapped_column(String(SHORT))
    b1: Mapped[str | None] = mapped_column(String(SHORT))
    low1: Mapped[float | None] = mapped_column(Float)
    high1: Mapped[float | None] = mapped_column(Float)
    a2: Mapped[str | None] = mapped_column(String(SHORT))
    b2: Mapped[str | None] = mapped_column(String(SHORT))
    low2: Mapped[float | None] = mapped_column(Float)
    high2: Mapped[float | None] = mapped_column(Float)
    a3: Mapped[str | None] = mapped_column(String(SHORT))
    b3: Mapped[str | None] = mapped_column(String(SHORT))
    low3: Mapped[float | None] = mapped_column(Float)
    high3: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (
        _owner_index("search_composite"),
        Index("ix_search_composite_first", "res_type", "param", "b1", "a1"),
    )


class TextIndex(Base):
    """Full-text tokens (``_text``, ``_content``): one row per resource and parameter, the
    distinct tokens separated by spaces.  The matching machinery is per database and lives in
    migration 0003_fulltext: a GIN index on ``array_to_tsvector(string_to_array(tokens, ' '))``
    on PostgreSQL, an FTS5 table ``search_text_fts`` (external content, kept by triggers) on SQLite."""

    __tablename__ = "search_text"
    id: Mapped[int] = mapped_column(Sequence64, primary_key=True, autoincrement=True)
    res_type: Mapped[str] = mapped_column(String(64), nullable=False)
    res_id: Mapped[str] = mapped_column(String(64), nullable=False)
    param: Mapped[str] = mapped_column(String(16), nullable=False)
    tokens: Mapped[str] = mapped_column(Text, nullable=False)
    __table_args__ = (_owner_index("search_text"),)


FTS_TABLE = "search_text_fts"  # SQLite only (and its FTS5 shadow tables search_text_fts_*)
TSV_INDEX = "ix_search_text_tsv"  # PostgreSQL only


def dialect_specific(name: str | None) -> bool:
    """Schema objects made by migration 0003 for one database only, not described by the models
    (Alembic's comparison and autogenerate skip them)."""
    return bool(name) and (name == TSV_INDEX or str(name).startswith(FTS_TABLE))


class SearchSession(Base):
    """A search whose ordered result list is stored so later pages stay stable."""

    __tablename__ = "search_session"
    search_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)  # rows stored
    total: Mapped[int | None] = mapped_column(Integer)  # when known
    # the ordered keys, one "Type/id" a line (migration 0008_search); None: in search_result (older lists)
    key_list: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_search_session_created", "created"),)


class SearchResult(Base):
    __tablename__ = "search_result"
    search_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    res_type: Mapped[str] = mapped_column(String(64), nullable=False)
    res_id: Mapped[str] = mapped_column(String(64), nullable=False)


INDEX_TABLES: dict[str, Table] = {
    "string": cast(Table, StringIndex.__table__),
    "token": cast(Table, TokenIndex.__table__),
    "reference": cast(Table, ReferenceIndex.__table__),
    "date": cast(Table, DateIndex.__table__),
    "number": cast(Table, NumberIndex.__table__),
    "quantity": cast(Table, QuantityIndex.__table__),
    "uri": cast(Table, UriIndex.__table__),
    "composite": cast(Table, CompositeIndex.__table__),
}
TEXT_TABLE = cast(Table, TextIndex.__table__)
