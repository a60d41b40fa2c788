"""The full-text condition on one ``search_text`` row, compiled per database (see :mod:`..fulltext`).

PostgreSQL: ``array_to_tsvector(string_to_array(tokens, ' ')) @@ CAST(:q AS tsquery)``, the
expression of the GIN index ``ix_search_text_tsv``.  SQLite: the row is among the FTS5
matches of ``search_text_fts``.  Other databases: a LIKE per token (correct, unindexed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import NullType

from fhir_server.search import fulltext
from fhir_server.storage.index_tables import FTS_TABLE


class TextMatch(ColumnElement):
    type = NullType()  # not Boolean: SQLite would compare it "= 1", hiding the rowid IN from its planner
    inherit_cache = False

    def __init__(self, table: Any, query: fulltext.TextQuery) -> None:
        self.table = table
        self.query = query


@compiles(TextMatch, "postgresql")
def _postgresql(element: TextMatch, compiler: Any, **kw: Any) -> str:
    tokens = compiler.process(element.table.c.tokens, **kw)
    query = compiler.process(bindparam(None, fulltext.tsquery(element.query)), **kw)
    return f"array_to_tsvector(string_to_array({tokens}, ' ')) @@ CAST({query} AS tsquery)"


@compiles(TextMatch, "sqlite")
def _sqlite(element: TextMatch, compiler: Any, **kw: Any) -> str:
    row_id = compiler.process(element.table.c.id, **kw)
    query = compiler.process(bindparam(None, fulltext.fts5_query(element.query)), **kw)
    return f"{row_id} IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {query})"


@compiles(TextMatch)
def _generic(element: TextMatch, compiler: Any, **kw: Any) -> str:
    padded = " " + element.table.c.tokens + " "
    like = [padded.like(f"% {t} %") for t in element.query.tokens] + [
        padded.like(f"% {p}%") for p in element.query.prefixes]
    return compiler.process(and_(*like), **kw)
