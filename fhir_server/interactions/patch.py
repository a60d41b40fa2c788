"""patch and conditional patch (R4 http §patch): JSON Patch or FHIRPath Patch, then the same
checks as an update."""

from __future__ import annotations

from fhir_server.core.errors import BadRequest, FHIRError, NotFound, Unprocessable
from fhir_server.interactions.common import (
    check_if_match,
    check_if_none_match,
    current_or_raise,
    require_type,
    stored_response,
)
from fhir_server.interactions.conditional import single_match
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.interactions.create import strip_server_meta
from fhir_server.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.patch.json_patch import apply_json_patch
from fhir_server.repository.base import UnitOfWork, same_content
from fhir_server.validation import validate_resource


def patch(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    require_type(res_type)
    current = current_or_raise(uow, res_type, res_id, for_update=True)
    check_if_match(request, current)
    check_if_none_match(request, current)
    patched = apply_patch(current.content or {}, request)
    if patched.get("resourceType") != res_type or patched.get("id") != res_id:
        raise Unprocessable("A patch may not change the resourceType or id", code="invalid")
    resource = strip_server_meta(patched)
    issues = validate_resource(resource, res_type)
    if any(i.is_error for i in issues):
        raise FHIRError(issues, status=422)
    if same_content(current.content or {}, resource):
        return stored_response(current, 200, request.base_url)
    stored = uow.save("PATCH", res_type, res_id, resource, current)
    return stored_response(stored, 200, request.base_url)


def conditional_patch(uow: UnitOfWork, request: FhirRequest, res_type: str, criteria: str) -> FhirResponse:
    require_type(res_type)
    match = single_match(uow, res_type, criteria)
    if match is None:
        raise NotFound(f"No {res_type} matches '{criteria}'")
    return patch(uow, request, res_type, match.res_id)


def apply_patch(resource: dict, request: FhirRequest) -> dict:
    body = request.body
    if request.content_type.startswith("application/json-patch+json"):
        if not isinstance(body, list):
            raise BadRequest("A JSON Patch body must be an array of operations", code="structure")
        return apply_json_patch(resource, body)
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        return apply_fhirpath_patch(resource, body)
    raise BadRequest("PATCH takes a JSON Patch (application/json-patch+json) or a FHIRPath Patch "
                     "Parameters resource (application/fhir+json or application/fhir+xml)", code="not-supported")
