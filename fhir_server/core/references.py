"""FHIR references (R4 §references): parsing ``Type/id[/_history/v]``, absolute URLs, and
walking every Reference of a resource (transactions rewrite them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_LOCAL_RE = re.compile(r"^(?:(?P<base>https?://.+)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
                       r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$")


@dataclass(frozen=True, slots=True)
class ParsedReference:
    res_type: str
    res_id: str
    version: str | None = None
    base: str | None = None  # absolute base URL when the reference was absolute


def parse_reference(value: str) -> ParsedReference | None:
    """``Patient/1``, ``Patient/1/_history/2`` or ``http://x/fhir/Patient/1``; None otherwise."""
    match = _LOCAL_RE.match(value)
    if not match:
        return None
    return ParsedReference(match["type"], match["id"], match["version"], match["base"])


def is_valid_id(value: str) -> bool:
    return bool(ID_RE.fullmatch(value))  # fullmatch: "$" alone lets a trailing newline through


def iter_reference_holders(node: object) -> Iterator[dict]:
    """Every JSON object with a string ``reference`` (i.e. every Reference), depth first."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if isinstance(current.get("reference"), str):
                yield current
            stack.extend(v for v in current.values() if isinstance(v, (dict, list)))
        elif isinstance(current, list):
            stack.extend(v for v in current if isinstance(v, (dict, list)))


def rewrite_references(resource: dict, rewrite: Callable[[str], str | None]) -> None:
    """Replace each Reference.reference (and its occurrences in the narrative) for which
    ``rewrite`` returns a new value; in place."""
    replaced: dict[str, str] = {}
    for holder in iter_reference_holders(resource):
        new = rewrite(holder["reference"])
        if new is not None and new != holder["reference"]:
            replaced[holder["reference"]] = new
            holder["reference"] = new
    div = resource.get("text", {}).get("div") if isinstance(resource.get("text"), dict) else None
    if isinstance(div, str) and replaced:
        for old, new in replaced.items():
            div = div.replace(f'"{old}"', f'"{new}"')
        resource["text"]["div"] = div


_REFERENCE_TEXT = re.compile(r'"reference":"((?:[^"\\]|\\.)*)"')
_CONTAINED_KEY = '"contained":'


def reference_strings(resource: object, skip_contained: bool = False) -> list[str]:
    """The string ``reference`` of every JSON object in ``resource``, in document order
    (``skip_contained``: not those under a ``contained`` key).

    Read from the resource's JSON text (orjson writes ``"reference":"`` only for such a key:
    a quote inside a string value is escaped), which is several times faster in Python than a
    walk of the objects; a resource orjson cannot write as it is (exact decimals) or that has
    ``contained`` resources to skip is walked instead."""
    try:
        data = orjson.dumps(resource).decode("utf-8")
    except TypeError:
        return _walk_references(resource, skip_contained)
    if skip_contained and _CONTAINED_KEY in data:
        return _walk_references(resource, skip_contained)
    return [orjson.loads(f'"{raw}"') if "\\" in raw else raw for raw in _REFERENCE_TEXT.findall(data)]


def _walk_references(node: object, skip_contained: bool) -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            reference = value.get("reference")
            if isinstance(reference, str):
                found.append(reference)
            for key, item in value.items():
                if isinstance(item, (dict, list)) and not (skip_contained and key == "contained"):
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return found
