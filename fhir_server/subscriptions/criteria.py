"""``Subscription.criteria`` (R4 §subscription: "a search URL ... evaluated on each write").

The criteria is parsed once, with the search engine's own parser, into the same
:class:`~fhir_server.search.request.SearchRequest` a search uses.  A written resource is
tested against it in memory when every test is about the resource itself (values, ``:missing``
and their ORs: the referral criteria ``Task?owner=Organization/x&status=requested``); a
criteria that reaches other resources (chains, ``_has``, full text) is run as a SQL search
restricted to the written id, in the write's own transaction, so it sees what the write sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from fhir_server import search
from fhir_server.core.errors import FHIRError, Issue, Unprocessable
from fhir_server.definitions.structures import structures
from fhir_server.search import fulltext
from fhir_server.search.index import index_entries
from fhir_server.search.memory import value_test_matches
from fhir_server.search.registry import ParamRegistry
from fhir_server.search.request import AnyTest, MissingTest, SearchRequest, Test, ValueTest

EXPRESSION = ("Subscription.criteria",)


@dataclass(frozen=True, slots=True)
class Criteria:
    res_type: str
    items: tuple[tuple[str, str], ...]
    request: SearchRequest
    local: bool  # every test can be decided from the resource alone


def parse_criteria(text: object, registry: ParamRegistry | None = None) -> Criteria:
    """``Type?param=value&...`` (or ``Type``), parsed strictly: an unknown parameter would
    otherwise be ignored and the subscription notified of every write of the type."""
    if not isinstance(text, str) or not text.strip():
        raise _invalid("Subscription.criteria is required: a search such as Task?owner=Organization/1")
    res_type, _, query = text.strip().partition("?")
    if res_type not in structures().resource_types:
        raise _invalid(f"Subscription.criteria must start with a resource type, not '{res_type[:60]}'")
    items = tuple(parse_qsl(query, keep_blank_values=True))
    try:
        request = search.parse_search(res_type, list(items), strict=True, registry=registry)
    except FHIRError as error:
        raise _invalid(f"Subscription.criteria is not a search this server supports: {error}") from None
    return Criteria(res_type, items, request, all(_is_local(t) for t in request.where))


def matches(uow, criteria: Criteria, res_id: str, content: dict, registry: ParamRegistry) -> bool:
    """Does the written ``content`` (current in ``uow``) meet ``criteria``?"""
    if criteria.local:
        entries = index_entries(registry, criteria.res_type, content, skip=frozenset())
        return all(_test(t, entries) for t in criteria.request.where)
    restricted = search.parse_search(criteria.res_type, [("_id", res_id), *criteria.items], registry=registry)
    return bool(uow.search(_count_only(restricted)).total)


def _count_only(request: SearchRequest) -> SearchRequest:
    from dataclasses import replace

    return replace(request, summary="count", includes=(), sort=(), total="accurate")


def _is_local(test: Test) -> bool:
    if isinstance(test, ValueTest):
        return test.param.code not in fulltext.PARAMS
    if isinstance(test, MissingTest):
        return True
    if isinstance(test, AnyTest):
        return all(_is_local(t) for t in test.tests)
    return False  # chains and _has look at other resources


def _test(test: Test, entries: dict[str, list[dict]]) -> bool:
    """The in-memory engine's semantics (search.memory), for tests about the resource itself."""
    if isinstance(test, ValueTest):
        return value_test_matches(test, entries)
    if isinstance(test, MissingTest):
        return bool(entries.get(test.param.code)) != test.missing
    if isinstance(test, AnyTest):
        return any(_test(t, entries) for t in test.tests)
    raise TypeError(test)


def _invalid(message: str) -> Unprocessable:
    return Unprocessable([Issue("value", message, expression=EXPRESSION)])
