"""Conditional interactions' criteria (R4 http §cond-update, §ccreate, §cdelete):
``Patient?identifier=sys|123`` resolved with the search engine, never with a scan."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fhir_server import search
from fhir_server.core.errors import BadRequest, PreconditionFailed
from fhir_server.repository.base import StoredResource, UnitOfWork
from fhir_server.search.registry import ParamRegistry
from fhir_server.search.request import ValueTest


def find_matches(uow: UnitOfWork, res_type: str, criteria: str) -> list[StoredResource]:
    """At most two current matches of ``criteria`` (enough to tell none, one or several)."""
    items = _items(res_type, criteria)
    # strict: an unknown parameter ignored here would match everything
    request = search.parse_search(res_type, items + [("_count", "2"), ("_total", "none")], strict=True,
                                  registry=uow.search_params())
    page = uow.search(request)
    found = []
    for row in page.matches[:2]:
        stored = uow.get(row.res_type, row.res_id)
        if stored is not None and not stored.deleted:
            found.append(stored)
    return found


def single_match(uow: UnitOfWork, res_type: str, criteria: str, *,
                 deciding_write: bool = False) -> StoredResource | None:
    """The one match of ``criteria``, None if none, 412 if several.  ``deciding_write``: the
    caller will write when nothing matches, so concurrent callers with the same criteria
    are serialised until commit (no duplicate from a race)."""
    if deciding_write:
        uow.lock(lock_key(res_type, criteria, uow.search_params()))
    matches = find_matches(uow, res_type, criteria)
    if len(matches) > 1:
        raise PreconditionFailed(f"The criteria '{criteria}' match more than one {res_type}", code="multiple-matches")
    return matches[0] if matches else None


def lock_key(res_type: str, criteria: str, registry: ParamRegistry | None = None) -> str:
    """The criteria as the search understands them, so that two spellings of one condition
    take one lock: parameters sorted, values parsed (an identifier system under all of its
    NamingSystem aliases, in one order) and sorted."""
    request = search.parse_search(res_type, _items(res_type, criteria), strict=True, registry=registry)
    return f"{res_type}?" + "&".join(sorted(_test_key(test) for test in request.where))


def _items(res_type: str, criteria: str) -> list[tuple[str, str]]:
    head, mark, query = criteria.partition("?")
    if mark and "=" not in head:  # a search URL ("Patient?…"); a '?' after the first '=' is in a value
        criteria = query
    # a parameter with no value is ignored by the search: criteria of those alone would match anything
    items = [(k, v) for k, v in parse_qsl(criteria, keep_blank_values=True)
             if not k.startswith("_count") and (v or k.startswith("_"))]
    if not items:
        raise BadRequest(f"Conditional criteria for {res_type} are empty", code="invalid")
    return items


def _test_key(test: object) -> str:
    if isinstance(test, ValueTest):
        values = ",".join(sorted({repr(v) for v in test.values}))
        return f"{test.param.code}:{test.modifier or ''}{':not' if test.negated else ''}={values}"
    return repr(test)  # chains, _has, :missing: their parsed form
