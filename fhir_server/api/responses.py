"""FhirResponse → HTTP: status, ETag, Last-Modified, Location, Prefer return, _summary,
_elements, _pretty and the wire format — decided here and nowhere else."""

from __future__ import annotations

from flask import Response

from fhir_server.api.negotiation import XML
from fhir_server.core import jsonio
from fhir_server.core.errors import Issue, operation_outcome
from fhir_server.core.instants import http_date
from fhir_server.formats.summary import select_elements, summarize
from fhir_server.formats.xml import resource_to_xml
from fhir_server.interactions.context import FhirRequest, FhirResponse

SUMMARY_MODES = ("true", "text", "data", "count", "false")


def render(request: FhirRequest, response: FhirResponse, media_type: str, pretty: bool) -> Response:
    body = _representation(request, response)
    headers = dict(response.headers)
    if response.stored is not None:
        headers["ETag"] = response.stored.etag
        headers["Last-Modified"] = http_date(response.stored.last_updated)
    if response.location:
        headers["Location"] = response.location
        if response.status == 201:
            headers["Content-Location"] = response.location
    if body is None or response.status in (204, 304) or request.method == "HEAD":
        return Response(status=response.status, headers=headers)
    return Response(serialize(body, media_type, pretty), status=response.status, headers=headers,
                    content_type=f"{media_type}; charset=utf-8")


def serialize(resource: dict, media_type: str, pretty: bool) -> bytes:
    if media_type == XML:
        return resource_to_xml(resource, pretty=pretty)
    return jsonio.dumps(resource, pretty=pretty)


def _representation(request: FhirRequest, response: FhirResponse) -> dict | None:
    resource = response.resource
    if resource is None or not response.is_stored_representation:
        return resource
    if request.method not in ("GET", "HEAD"):
        if request.prefer.return_ == "minimal":
            return None
        if request.prefer.return_ == "OperationOutcome":
            return operation_outcome([Issue("informational", f"{request.method} succeeded",
                                            severity="information")])
    summary = request.query_value("_summary")
    if summary in ("true", "text", "data"):
        return summarize(resource, summary)
    elements = request.query_value("_elements")
    if elements:
        return select_elements(resource, [e.strip() for e in elements.split(",") if e.strip()])
    return resource
