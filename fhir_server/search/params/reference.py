"""Reference search (FHIR R4 §3.1.1.4.12): ``Type/id``, a bare ``id`` (any target type), an
absolute URL or canonical (``url|version`` matches the url), ``:Type`` and ``:identifier``.
Chaining and ``_has`` are built on these rows by the query builder.

Absolute references are kept as written (``url``): the server cannot know which base URLs are
its own, so ``Patient/1`` does not match ``http://elsewhere/fhir/Patient/1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_

from fhir_server.search.values import ValueError_, split_escaped, unescape
from fhir_server.storage.index_tables import SHORT, ReferenceIndex

TABLE = ReferenceIndex.__table__
MODIFIERS = frozenset({"identifier"})  # plus any resource type, checked by the parser
NEGATING: frozenset[str] = frozenset()
SORT_COLUMNS = ("target_id", "target_id")
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?")


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    target_type: str | None = None
    target_id: str | None = None
    url: str | None = None
    ident_system: str | None = None  # for :identifier; None = any system, "" = none
    ident_value: str | None = None


def parse(raw: str, modifier: str | None) -> ReferenceValue:
    value = unescape(raw)
    if modifier == "identifier":
        parts = [unescape(p) for p in split_escaped(raw, "|")]
        return ReferenceValue(ident_value=parts[-1], ident_system=parts[0] if len(parts) == 2 else None)
    if "://" in value or value.startswith("urn:"):
        return ReferenceValue(url=value.split("|", 1)[0])
    m = _RELATIVE.fullmatch(value)
    if m:
        if modifier and modifier != m[1]:
            raise ValueError_(f"'{value}' is not a {modifier}")
        return ReferenceValue(m[1], m[2])
    if not value or "/" in value:
        raise ValueError_(f"'{value}' is not a reference")
    return ReferenceValue(modifier, value)


def index_rows(node: tuple[Any, str | None]) -> list[dict]:
    value = node[0]
    if isinstance(value, str):  # canonical or uri
        return [_row(url=value.split("|", 1)[0])]
    if not isinstance(value, dict):
        return []
    row = _target(value.get("reference"))
    ident = value.get("identifier")
    if isinstance(ident, dict) and ident.get("value"):
        row = {**(row or _row()), "ident_system": _cut(ident.get("system")), "ident_value": _cut(ident["value"])}
    return [row] if row else []


def _target(reference: Any) -> dict | None:
    if not isinstance(reference, str) or not reference or reference.startswith("#"):
        return None
    m = _RELATIVE.fullmatch(reference)
    if m:
        return _row(m[1], m[2])
    return _row(url=reference)


def _row(target_type: str | None = None, target_id: str | None = None, url: str | None = None) -> dict:
    return {"target_type": target_type, "target_id": target_id, "url": _cut(url),
            "ident_system": None, "ident_value": None}


def _cut(value: Any) -> str | None:
    return str(value)[:SHORT] if value is not None else None


def condition(t: Any, v: ReferenceValue, modifier: str | None) -> Any:
    c = t.c
    if v.ident_value is not None:
        if v.ident_system is None:  # any system
            return c.ident_value == v.ident_value
        # ``|value``: an identifier without a system (token semantics, R4 §3.1.1.4.9)
        system = c.ident_system.is_(None) if v.ident_system == "" else c.ident_system == v.ident_system
        return and_(c.ident_value == v.ident_value, system)
    if v.url is not None:
        return c.url == v.url
    return and_(c.target_id == v.target_id, c.target_type == v.target_type) if v.target_type else (
        c.target_id == v.target_id)


def matches(row: dict, v: ReferenceValue, modifier: str | None) -> bool:
    if v.ident_value is not None:
        return row["ident_value"] == v.ident_value and (
            v.ident_system is None or row["ident_system"] == (v.ident_system or None))
    if v.url is not None:
        return row["url"] == v.url
    return row["target_id"] == v.target_id and (v.target_type is None or row["target_type"] == v.target_type)
