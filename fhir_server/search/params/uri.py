"""URI search (FHIR R4 §3.1.1.4.13): exact match; ``:below`` (the value and anything under it,
by path segment) and ``:above`` (the value and any of its parent paths)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_

from fhir_server.search.values import like_escape, unescape
from fhir_server.storage.index_tables import SHORT, UriIndex

TABLE = UriIndex.__table__
MODIFIERS = frozenset({"above", "below"})
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("value", "value")


@dataclass(frozen=True, slots=True)
class UriValue:
    uri: str


def parse(raw: str, modifier: str | None) -> UriValue:
    return UriValue(unescape(raw))


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    value = node[0]
    return [{"value": value[:SHORT]}] if isinstance(value, str) and value else []


def parents(uri: str) -> list[str]:
    """``uri`` and each shorter path made by dropping trailing segments."""
    out, current = [uri], uri.rstrip("/")
    while "/" in current and not current.endswith((":/", ":")):
        current = current.rsplit("/", 1)[0]
        if current.endswith((":/", ":")) or not current:
            break
        out.append(current)
    return out


def condition(t: Any, v: UriValue, modifier: str | None) -> Any:
    if modifier == "above":
        return t.c.value.in_(parents(v.uri))
    if modifier == "below":
        base = v.uri.rstrip("/")
        return or_(t.c.value == v.uri, t.c.value.like(like_escape(base) + "/%", escape="\\"))
    return t.c.value == v.uri


def matches(row: dict, v: UriValue, modifier: str | None) -> bool:
    if modifier == "above":
        return row["value"] in parents(v.uri)
    if modifier == "below":
        return row["value"] == v.uri or row["value"].startswith(v.uri.rstrip("/") + "/")
    return row["value"] == v.uri
