"""Resource content to and from the database's JSON column, decimals exact (FHIR R4 §2.24.0.1).

A document holding a decimal with its own text (:class:`FhirDecimal`: ``1.50``, ``1.0E+2``)
is stored with a :data:`DECIMALS` key (no FHIR element can have that name), so reading it
back takes the exact (slower) parse only for those documents; every other one is read by
orjson alone.  SQLite keeps the JSON text as written.  PostgreSQL's JSONB keeps a decimal's
digits and scale (``1.50``, 27 significant digits) but rewrites an exponent (``1.0E+2`` →
``100``) and the sign of a zero, so the texts of such decimals are the key's value, as
``[path, text]`` pairs, and are put back when the document is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from fhir_server.core.decimals import FhirDecimal
from fhir_server.core.jsonio import dumps_noting_decimals, loads_exact

DECIMALS = "jiayi:decimals"
Path = list[str | int]


def to_sqlite(value: Any) -> str:
    data, exact = dumps_noting_decimals(value)
    if exact and isinstance(value, dict):
        data, _ = dumps_noting_decimals({**value, DECIMALS: []})
    return data.decode("utf-8")


def to_postgres(value: Any) -> str:
    """JSON for a JSONB column: decimals JSONB would rewrite are also kept under :data:`DECIMALS`."""
    data, exact = dumps_noting_decimals(value)
    if exact and isinstance(value, dict):
        texts = [[path, number.text] for path, number in _decimals(value, []) if _jsonb_rewrites(number.text)]
        data, _ = dumps_noting_decimals({**value, DECIMALS: texts})
    return data.decode("utf-8")


def from_database(text: str | bytes) -> Any:
    value = orjson.loads(text)
    if isinstance(value, dict) and DECIMALS in value:
        value = loads_exact(text)
        _restore(value)
    return value


def _jsonb_rewrites(text: str) -> bool:
    """Whether PostgreSQL's numeric would print ``text`` differently: an exponent, or a negative zero."""
    return "e" in text or "E" in text or (text.startswith("-") and not text.strip("-0."))


def _decimals(node: Any, path: Path) -> Iterator[tuple[Path, FhirDecimal]]:
    if isinstance(node, FhirDecimal):
        yield list(path), node
    elif isinstance(node, dict):
        for key, child in node.items():
            yield from _decimals(child, [*path, key])
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _decimals(child, [*path, index])


def _restore(document: dict) -> None:
    texts = document[DECIMALS]
    if not isinstance(texts, list) or not all(_well_formed(t) for t in texts):
        return  # not ours: leave the document as it is
    del document[DECIMALS]
    for path, text in texts:
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            if float(parent[path[-1]]) == float(text):
                parent[path[-1]] = FhirDecimal(text)
        except (KeyError, IndexError, TypeError, ValueError):
            continue


def _well_formed(item: Any) -> bool:
    return (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list) and bool(item[0])
            and isinstance(item[1], str))
