"""history at instance, type and system level (R4 http §history): ``_since``, ``_at``, ``_count``."""

from __future__ import annotations

from fhir_server.core.errors import BadRequest
from fhir_server.core.instants import parse_fhir_range
from fhir_server.core.numbers import bounded_int
from fhir_server.interactions.bundles import bundle, history_entry, link
from fhir_server.interactions.common import require_type
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import HistoryQuery, UnitOfWork

PAGE = "_page"
MAX_COUNT = 1000
KNOWN = {"_since", "_at", "_count", PAGE, "_format", "_pretty", "_summary", "_elements"}


def history(uow: UnitOfWork, request: FhirRequest, res_type: str | None = None,
            res_id: str | None = None) -> FhirResponse:
    if res_type:
        require_type(res_type)
    query = _parse(request, res_type, res_id)
    page = uow.history(query)
    path = "/".join(p for p in (res_type, res_id, "_history") if p)
    kept = [(k, v) for k, v in request.query if k in ("_since", "_at", "_count")]
    links = [link("self", request.base_url, path, request.query)]
    if page.next_before_seq is not None:
        links.append(link("next", request.base_url, path, kept + [(PAGE, str(page.next_before_seq))]))
    entries = [history_entry(request.base_url, stored) for stored in page.entries]
    return FhirResponse(200, bundle("history", entries, page.total, links))


def _parse(request: FhirRequest, res_type: str | None, res_id: str | None) -> HistoryQuery:
    unknown = [k for k, _ in request.query if k not in KNOWN]
    if unknown and request.prefer.handling == "strict":
        raise BadRequest(f"Unknown history parameter(s): {', '.join(unknown)}")
    since = request.query_value("_since")
    at = request.query_value("_at")
    count = _count(request.query_value("_count"))
    before = request.query_value(PAGE)
    before_seq = bounded_int(before) if before is not None else None
    if before is not None and before_seq is None:
        raise BadRequest(f"Parameter '{PAGE}': '{before}' is not a page of this history", expression=[PAGE])
    return HistoryQuery(
        res_type=res_type, res_id=res_id,
        since=parse_fhir_range(since, "_since")[0] if since else None,
        at=parse_fhir_range(at, "_at") if at else None,
        count=count, before_seq=before_seq,
    )


def _count(value: str | None) -> int:
    if value is None:
        return 20
    number = bounded_int(value)
    if number is None:
        raise BadRequest(f"Parameter '_count': '{value[:40]}' is not a non-negative integer", expression=["_count"])
    return min(number, MAX_COUNT)
