"""search at type, system and compartment level (R4 http §search; the search page).

The query is parsed by :mod:`fhir_server.search` into a typed request before anything runs;
this module only turns the resulting page into a ``searchset`` Bundle with its links.
"""

from __future__ import annotations

from dataclasses import replace

from fhir_server import search as engine
from fhir_server.core.errors import operation_outcome
from fhir_server.formats.summary import select_elements, summarize
from fhir_server.interactions import access
from fhir_server.interactions.bundles import bundle, link
from fhir_server.interactions.common import require_type
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.interactions.terminology import store_terminology
from fhir_server.repository.base import UnitOfWork

FORMAT_PARAMETERS = ("_format", "_pretty")


def search_type(uow: UnitOfWork, request: FhirRequest, res_type: str) -> FhirResponse:
    require_type(res_type)
    return _run(uow, request, res_type, res_type)


def search_system(uow: UnitOfWork, request: FhirRequest) -> FhirResponse:
    return _run(uow, request, None, "")


def search_compartment(uow: UnitOfWork, request: FhirRequest, compartment: str, owner_id: str,
                       res_type: str) -> FhirResponse:
    require_type(compartment)
    if res_type != "*":
        require_type(res_type)
    return _run(uow, request, None if res_type == "*" else res_type, f"{compartment}/{owner_id}/{res_type}",
                compartment=(compartment, owner_id))


def _run(uow: UnitOfWork, request: FhirRequest, res_type: str | None, path: str,
         compartment: tuple[str, str] | None = None) -> FhirResponse:
    items = [(k, v) for k, v in request.query if k not in FORMAT_PARAMETERS]
    strict = request.prefer.handling == "strict"
    parsed = engine.parse_search(res_type, items, strict=strict, terminology=store_terminology(uow),
                                 registry=uow.search_params(), compartment=compartment)
    parsed = replace(parsed, scope=token_scope(request, path))
    parsed = access.limit_search(parsed, request.grant, request)
    page = uow.search(parsed, request.query_value(engine.PAGE_PARAM))
    entries = []
    if parsed.summary != "count":
        entries = [_entry(request, row, "match", parsed) for row in page.matches]
        entries += [_entry(request, row, "include", parsed) for row in page.included
                    if access.readable(request, row.res_type)]
    warnings = [*parsed.warnings, *page.warnings]
    if warnings:
        entries.append({"resource": operation_outcome(warnings), "search": {"mode": "outcome"}})
    return FhirResponse(200, bundle("searchset", entries, page.total, _links(request, path, items, page)))


def token_scope(request: FhirRequest, path: str) -> str:
    """What page tokens are bound to besides the query: the search's path (type, compartment) and
    who asked (the principal's subject; access control decides what that subject may see)."""
    return f"{request.principal.subject}\n{path}"


def _entry(request: FhirRequest, row, mode: str, parsed) -> dict:
    resource = row.content
    if parsed.summary in ("true", "text", "data"):
        resource = summarize(resource, parsed.summary)
    elif parsed.elements:
        resource = select_elements(resource, list(parsed.elements))
    return {"fullUrl": f"{request.base_url}/{row.res_type}/{row.res_id}", "resource": resource,
            "search": {"mode": mode}}


def _links(request: FhirRequest, path: str, items: list[tuple[str, str]], page) -> list[dict]:
    base = [(k, v) for k, v in items if k != engine.PAGE_PARAM]
    links = [link("self", request.base_url, path, items)]
    for relation, token in (("first", page.first_page), ("previous", page.previous_page),
                            ("next", page.next_page)):
        if token:
            links.append(link(relation, request.base_url, path, base + [(engine.PAGE_PARAM, token)]))
    return links
