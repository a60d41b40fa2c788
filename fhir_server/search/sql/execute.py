"""Run a parsed search against the database: one page of current rows, includes, total, links."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from fhir_server.core.budget import checkpoint
from fhir_server.core.errors import Gone
from fhir_server.search.cost import Limits, configured
from fhir_server.search.page import PageToken, SearchPage, binding, included_cap_warning, page_links
from fhir_server.search.request import PAGE_PARAM, AnyTest, SearchRequest, ValueTest
from fhir_server.search.sql import paging
from fhir_server.search.sql.builder import R, filters, order_by
from fhir_server.search.sql.includes import fetch_includes
from fhir_server.search.sql.reach import reach_condition, row_condition
from fhir_server.storage import faults
from fhir_server.storage.models import ResourceRow

LIVE = "live"  # token prefix of pages past the stored list (or when it expired); never a hex digit


def execute_search(session: Session, request: SearchRequest, page: str | None = None,
                   limits: Limits | None = None) -> SearchPage:
    limits = limits or configured()
    checkpoint()
    access = access_filter(request)
    where = filters(request.resource_type, request.types, request.where) + access
    token = page or request.page
    if request.count_only:
        return SearchPage(total=_count(session, where))
    result = _from_token(session, request, where, PageToken.parse(token)) if token else _first_page(
        session, request, where, limits)
    if request.includes and result.matches:
        included = fetch_includes(session, request.includes, result.matches, limits.max_include_depth,
                                  request.reach, cap=limits.max_included + 1)
        result.included = included[:limits.max_included]
        if len(included) > limits.max_included:
            result.warnings.append(included_cap_warning(limits.max_included))
    return result


def access_filter(request: SearchRequest) -> list:
    """The principal's reach (SPEC §6): a condition like any other, so counts and pages agree.
    A search that names its few rows up front (``_id=`` of a page of records; ``patient=``,
    ``subject=Patient/…`` or a Patient compartment of a few residents) asks each row's residents
    on their own, as a read does; any other search tests rows against the reachable set, built
    once (``search/sql/reach.py``: the two agree)."""
    if request.reach is None:
        return []
    if request.resource_type is not None and _names_few_rows(request.where):
        return [row_condition(request.reach, request.resource_type)]
    return [reach_condition(request.reach, request.resource_type)]


FEW_RESIDENTS = 3  # a search of at most this many residents' records is "of a few residents"
FEW_RECORDS = 100  # ``_id=`` with at most this many ids (a page of known records)


def _names_few_rows(tests) -> bool:
    """Does a top-level test leave few rows: ``_id`` with at most :data:`FEW_RECORDS` ids, or a
    reference to at most :data:`FEW_RESIDENTS` ids that can be Patients (``patient=p1``,
    ``subject=Patient/p1``, a compartment's any-of those)?  Only the choice of the cheaper
    condition hangs on it, never what is visible."""
    return any(_names_residents(test) or _names_records(test) for test in tests)


def _names_residents(test) -> bool:
    if isinstance(test, AnyTest):
        return bool(test.tests) and all(_names_residents(t) for t in test.tests)
    return (isinstance(test, ValueTest) and test.param.type == "reference" and not test.negated
            and 0 < len(test.values) <= FEW_RESIDENTS
            and all(v.target_id and v.target_type in (None, "Patient") and v.url is None for v in test.values))


def _names_records(test) -> bool:
    return isinstance(test, ValueTest) and test.param.code == "_id" and not test.negated and (
        0 < len(test.values) <= FEW_RECORDS)


def _first_page(session: Session, request: SearchRequest, where: list, limits: Limits) -> SearchPage:
    """The search runs once: its ordered keys (up to the stored list's cap), from which the page's
    rows are read by primary key and, when there is a next page, the stored list is written.
    (Reading the page with ``LIMIT`` and then storing the list with ``INSERT ... SELECT`` ran the
    whole search twice, reach condition and sort included, whenever it had a second page.)"""
    order = order_by(request.sort)
    cap = limits.stored_results + request.offset
    keys = paging.ordered_keys(session, where, order, cap)
    end = request.offset + request.count
    rows = paging.rows_by_key(session, keys[request.offset:end])
    if len(keys) <= end:
        total = None if request.total == "none" else (len(keys) if len(keys) < cap else _count(session, where))
        return SearchPage(matches=rows, total=total)
    try:
        with session.begin_nested():  # a savepoint: a failed store leaves the read transaction usable
            search_id, size = paging.store_keys(session, keys, cap, binding(request))
    except DBAPIError as exc:
        if faults.classify(exc) != faults.UNAVAILABLE:
            raise
        # a read-only (or full) database still answers reads: this page, and live tokens for the rest
        return _live_page(session, request, where, rows, request.offset, more=True)
    # the first page is read from the keys stored: the list and the page agree
    return _stored_page(session, request, where, search_id, size, size if size < cap else None, request.offset,
                        rows=rows)


def _stored_page(session: Session, request: SearchRequest, where: list, search_id: str, size: int,
                 known_total: int | None, offset: int, rows: list | None = None) -> SearchPage:
    if rows is None:
        rows = paging.read_page(session, search_id, offset, request.count, access_filter(request))
    result = SearchPage(matches=rows, **page_links(search_id, offset, request.count, size))  # type: ignore[arg-type]
    if request.total != "none":
        result.total = known_total if known_total is not None else _count(session, where)
    return result


def _from_token(session: Session, request: SearchRequest, where: list, token: PageToken) -> SearchPage:
    tag = binding(request)
    if not token.search_id.endswith(tag):
        raise Gone("This page token belongs to another search (query, type or user); run the search again",
                   expression=(PAGE_PARAM,))
    live = token.search_id.startswith(LIVE)
    stored = paging.load(session, token.search_id) if not live else None
    if stored is not None and token.offset < stored.size:
        return _stored_page(session, request, where, token.search_id, stored.size, stored.total, token.offset)
    rows = _live(session, where, order_by(request.sort), token.offset, request.count + 1)
    return _live_page(session, request, where, rows, token.offset)


def _live_page(session: Session, request: SearchRequest, where: list, rows: list, offset: int,
               more: bool = False) -> SearchPage:
    """A page read without a stored list; its tokens run the search again at their offset
    (``more``: there is a next page, whatever the length of ``rows``)."""
    prefix = LIVE + binding(request)
    result = SearchPage(matches=rows[:request.count], self_page=f"{prefix}-{offset}",
                        first_page=f"{prefix}-0")
    if more or len(rows) > request.count:
        result.next_page = f"{prefix}-{offset + request.count}"
    if offset > 0:
        result.previous_page = f"{prefix}-{max(0, offset - request.count)}"
    if request.total != "none":
        result.total = _count(session, where)
    return result


def _live(session: Session, where: list, order: list, offset: int, limit: int) -> list[ResourceRow]:
    return list(session.scalars(select(ResourceRow).where(*where).order_by(*order).offset(offset).limit(limit)))


def _count(session: Session, where: list) -> int:
    return session.scalar(select(func.count()).select_from(R).where(*where)) or 0
