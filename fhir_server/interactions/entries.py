"""Bundle entries as requests, responses as entries (R4 http §transaction, §batch)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fhir_server.core.errors import BadRequest, FHIRError
from fhir_server.core.instants import fhir_instant, parse_http_date
from fhir_server.interactions.bundles import status_line
from fhir_server.interactions.context import FhirRequest, FhirResponse

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def entry_request(parent: FhirRequest, entry: dict, index: int) -> FhirRequest:
    """One entry's ``request`` element (+ its resource) as a FhirRequest."""
    req = entry.get("request")
    if not isinstance(req, dict) or req.get("method") not in METHODS or not isinstance(req.get("url"), str):
        raise BadRequest(f"Bundle.entry[{index}].request must have a method ({', '.join(METHODS)}) and a url",
                         expression=[f"Bundle.entry[{index}].request"])
    url = req["url"]
    if url.startswith(parent.base_url + "/"):
        url = url[len(parent.base_url) + 1:]
    parts = urlsplit(url)
    body = entry.get("resource")
    content_type = "application/fhir+json"
    if req["method"] == "PATCH" and isinstance(body, dict) and body.get("resourceType") == "Binary":
        body, content_type = _binary_patch(body, index)
    return FhirRequest(
        method=req["method"],
        path=parts.path.strip("/"),
        query=parse_qsl(parts.query, keep_blank_values=True),
        body=body,
        content_type=content_type,
        if_match=req.get("ifMatch"),
        if_none_match=req.get("ifNoneMatch"),
        if_none_exist=req.get("ifNoneExist"),
        if_modified_since=parse_http_date(req["ifModifiedSince"]) if req.get("ifModifiedSince") else None,
        prefer=parent.prefer,
        base_url=parent.base_url,
        principal=parent.principal,
    )


def _binary_patch(binary: dict, index: int) -> tuple[object, str]:
    """A JSON Patch inside a transaction travels as a Binary (R4 http §patch)."""
    import base64

    from fhir_server.core import jsonio

    try:
        patch = jsonio.loads(base64.b64decode(binary.get("data", "")))
        return patch, binary.get("contentType", "application/json-patch+json")
    except (ValueError, TypeError, FHIRError):  # not base64, or not JSON (jsonio's 400 speaks of "the body")
        raise BadRequest(f"Bundle.entry[{index}].resource: the Binary does not hold a JSON Patch") from None


def response_entry(response: FhirResponse, request: FhirRequest) -> dict:
    entry_response: dict = {"status": status_line(response.status)}
    if response.location:
        entry_response["location"] = response.location
    stored = response.stored
    if stored is not None:
        entry_response["etag"] = stored.etag
        entry_response["lastModified"] = fhir_instant(stored.last_updated)
    entry: dict = {}
    if stored is not None and not stored.deleted:
        entry["fullUrl"] = f"{request.base_url}/{stored.res_type}/{stored.res_id}"
    resource = response.resource
    writes = request.method not in ("GET", "HEAD")
    if response.is_stored_representation and writes and request.prefer.return_ in ("minimal", "OperationOutcome"):
        resource = None
    if resource is not None:
        entry["resource"] = resource
    entry["response"] = entry_response
    return entry


def error_entry(error: FHIRError) -> dict:
    return {"response": {"status": status_line(error.status), "outcome": error.outcome()}}
