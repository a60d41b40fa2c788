"""``$validate`` (R4 resource-operation-validate): the base R4 rules for now; profiles come with
the implementation guide's validator."""

from __future__ import annotations

from fhir_server.core.errors import BadRequest, Issue, operation_outcome
from fhir_server.interactions.common import current_or_raise
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.parameters import OperationInput
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import UnitOfWork
from fhir_server.validation import validate_resource

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
MODES = ("create", "update", "delete")


def validate(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    resource = params.resource("resource") or params.body_resource
    mode = params.value("mode")
    if mode is not None and mode not in MODES:
        raise BadRequest(f"Parameter 'mode' must be one of {', '.join(MODES)}", expression=["mode"])
    if resource is None and res_id is not None:
        resource = current_or_raise(uow, res_type or "", res_id).content
    if resource is None:
        raise BadRequest("$validate needs a resource: the body, a 'resource' parameter, or an instance URL",
                         code="required")
    profile = params.value("profile")
    if profile is not None and profile != BASE_PROFILE + str(resource.get("resourceType")):
        raise BadRequest(f"Unknown profile '{profile}'", code="not-supported", expression=["profile"])
    issues = [] if mode == "delete" else validate_resource(resource, res_type)
    if not issues:
        issues = [Issue("informational", "No issues: the resource is valid FHIR R4", severity="information")]
    return FhirResponse(200, operation_outcome(issues))


OPERATIONS = [
    Operation("validate", validate, "http://hl7.org/fhir/OperationDefinition/Resource-validate",
              type_level=True, instance=True),
]
