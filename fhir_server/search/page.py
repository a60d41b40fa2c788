"""What a search returns: one page of matches, the included resources, the total and the
opaque page tokens (given back as ``_page=<token>`` with the original query)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from fhir_server.core.errors import BadRequest, Issue
from fhir_server.core.numbers import bounded_int
from fhir_server.search.request import MAX_OFFSET, PAGE_PARAM

UNBOUND = frozenset({PAGE_PARAM, "_format", "_pretty"})


def binding(request: Any) -> str:
    """16 hex digits naming what a page token serves: the scope (principal, path), the type and
    the query's parameters (sorted; the page token and output format aside).  A token replayed
    under another query, type or principal names another binding and is refused (410)."""
    items = sorted(f"{k}={v}" for k, v in request.items if k not in UNBOUND)
    text = "\n".join([request.scope, request.resource_type or "*", ",".join(request.types), *items])
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass
class SearchPage:
    matches: list[Any] = field(default_factory=list)  # ResourceRow-like: res_type, res_id, content, ...
    included: list[Any] = field(default_factory=list)
    total: int | None = None
    next_page: str | None = None
    previous_page: str | None = None
    first_page: str | None = None
    self_page: str | None = None
    last_page: str | None = None
    warnings: list[Issue] = field(default_factory=list)  # e.g. included resources left out (the cap)


def included_cap_warning(cap: int) -> Issue:
    return Issue("too-costly", f"More than {cap} resources are included by _include/_revinclude on this page; "
                 f"only the first {cap} are returned. Use a smaller _count or fewer includes",
                 severity="warning", expression=("_include",))


@dataclass(frozen=True, slots=True)
class PageToken:
    """``<search id>-<offset>``: a stored result list and a position in it (``live`` for no list)."""

    search_id: str
    offset: int

    def __str__(self) -> str:
        return f"{self.search_id}-{self.offset}"

    @classmethod
    def parse(cls, text: str) -> PageToken:
        search_id, _, offset = text.rpartition("-")
        position = bounded_int(offset, MAX_OFFSET)
        if not search_id or position is None or len(search_id) > 64:
            raise BadRequest(f"Invalid paging token '{text[:80]}'", expression=(PAGE_PARAM,))
        return cls(search_id, position)


def page_links(search_id: str, offset: int, count: int, size: int) -> dict[str, str | None]:
    """next/previous/first/self/last tokens over a result list of ``size`` entries."""
    def token(at: int) -> str:
        return str(PageToken(search_id, at))

    last = max(0, (size - 1) // count * count) if count else 0
    return {
        "self_page": token(offset),
        "first_page": token(0),
        "next_page": token(offset + count) if count and offset + count < size else None,
        "previous_page": token(max(0, offset - count)) if offset > 0 else None,
        "last_page": token(last),
    }
