"""Reads the domain rules and operations make, always through the unit of work: inside a write
they see the transaction's own writes and, on PostgreSQL, what committed before their lock."""

from __future__ import annotations

from collections.abc import Iterator

from fhir_server import search
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.repository.base import UnitOfWork

PAGE = 500


def current(uow: UnitOfWork, reference: str | None) -> dict | None:
    """The current content of ``Type/id`` (None when unknown or deleted)."""
    if not reference or "/" not in reference:
        return None
    res_type, _, res_id = reference.partition("/")
    stored = uow.get(res_type, res_id)
    return stored.content if stored is not None and not stored.deleted else None


def find(uow: UnitOfWork, res_type: str, items: list[tuple[str, str]]) -> Iterator[dict]:
    """Every current match of a search (all pages), as resource content."""
    request = search.parse_search(res_type, [*items, ("_count", str(PAGE)), ("_total", "none")], strict=True)
    page = uow.search(request)
    while True:
        for row in page.matches:
            if row.content is not None:
                yield row.content
        if not page.next_page:
            return
        page = uow.search(request, page.next_page)


def count(uow: UnitOfWork, res_type: str, items: list[tuple[str, str]]) -> int:
    request = search.parse_search(res_type, [*items, ("_summary", "count")], strict=True)
    return uow.search(request).total or 0


def by_identifier(uow: UnitOfWork, res_type: str, systems: tuple[str, ...], value: str) -> list[dict]:
    """Current resources with an identifier ``system|value`` in any of ``systems`` (aliases)."""
    if not value or any(ch in value for ch in ",|\\$"):
        raise Unprocessable([Issue("value", f"'{value}' is not a card or identifier number")])
    token = ",".join(f"{system}|{value}" for system in systems)
    return list(find(uow, res_type, [("identifier", token)]))
