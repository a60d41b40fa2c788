"""``$validate`` (R4 resource-operation-validate; SPEC §2.3, §3 "Validation"): type and instance
level, against the base spec and any known profile (``profile``), in ``mode`` create, update or
delete.  Always 200 with an OperationOutcome listing every issue; an unknown profile or a bad
parameter is a 4xx OperationOutcome.

- no mode: the resource's structure, base invariants and the profiles it claims (or ``profile``);
- ``create``: the same, plus: an ``id`` is ignored by create (warning);
- ``update``: an ``id`` is required and must be the instance id of the URL;
- ``delete``: the resource must exist and not be deleted yet (nothing else is checked).
"""

from __future__ import annotations

from dataclasses import replace

from fhir_server.core.errors import BadRequest, Issue, operation_outcome
from fhir_server.interactions.common import current_or_raise
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.parameters import OperationInput
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import UnitOfWork
from fhir_server.validation import UnknownProfile, Validator

MODES = ("create", "update", "delete")
INPUTS = ("resource", "mode", "profile")  # the in-parameters of R4 Resource-validate


def _input(request: FhirRequest, res_type: str | None) -> tuple[OperationInput, dict | None]:
    """The operation's input and the resource posted as the body itself, if it is one.

    A ``Parameters`` body is the operation's own input (R4 operations §"Invoking": a POST carries
    a Parameters resource) when it names the ``resource`` parameter, or when it only carries
    ``mode``/``profile``; a ``Parameters`` body sent to ``Parameters/$validate`` with other
    parameters is the Parameters resource to validate (R4 lets a single resource input be the
    body), and then ``mode``/``profile`` come from the URL."""
    body = request.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        names = {p.get("name") for p in body.get("parameter") or [] if isinstance(p, dict)}
        own_input = "resource" in names or (names <= set(INPUTS) and (bool(names) or res_type != "Parameters"))
        if not own_input:
            return OperationInput(replace(request, body=None)), body
    params = OperationInput(request)
    return params, params.body_resource


def validate_with(validator: Validator):
    def validate(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
        params, body_resource = _input(request, res_type)
        mode = params.value("mode")
        if mode is not None and mode not in MODES:
            raise BadRequest(f"Parameter 'mode' must be one of {', '.join(MODES)}", expression=["mode"])
        if mode == "delete":
            return FhirResponse(200, operation_outcome(_delete_issues(uow, res_type, res_id)))
        resource = params.resource("resource") or body_resource
        if resource is None and res_id is not None:
            resource = current_or_raise(uow, res_type or "", res_id).content
        if resource is None:
            raise BadRequest("$validate needs a resource: the body, a 'resource' parameter, or an instance URL",
                             code="required")
        profile = params.value("profile")
        if profile is not None and not isinstance(profile, str):
            raise BadRequest("Parameter 'profile' must be a canonical URL", expression=["profile"])
        try:
            issues = validator.validate(resource, profile, res_type)
        except UnknownProfile:
            raise BadRequest(f"Unknown profile '{profile}': this server has no StructureDefinition with that "
                             "canonical URL", code="not-supported", expression=["profile"]) from None
        issues += _mode_issues(mode, resource, res_type, res_id)
        if not issues:
            issues = [Issue("informational", "No issues: the resource is valid" +
                            (f" against {profile}" if profile else " FHIR R4"), severity="information")]
        return FhirResponse(200, operation_outcome(issues))

    return validate


def _mode_issues(mode: object, resource: object, res_type: str | None, res_id: str | None) -> list[Issue]:
    if not isinstance(resource, dict):
        return []
    where = str(resource.get("resourceType") or res_type or "Resource")
    if mode == "update":
        if not resource.get("id"):
            return [Issue("required", "An update needs the resource id (R4 http §update: the body's id must "
                          "match the URL)", expression=(f"{where}.id",))]
        if res_id is not None and resource["id"] != res_id:
            return [Issue("invalid", f"The resource id {resource['id']!r} does not match the id in the URL "
                          f"{res_id!r}", expression=(f"{where}.id",))]
    if mode == "create" and resource.get("id"):
        return [Issue("informational", "The id is ignored by create: the server assigns one",
                      severity="warning", expression=(f"{where}.id",))]
    return []


def _delete_issues(uow: UnitOfWork, res_type: str | None, res_id: str | None) -> list[Issue]:
    if res_type is None or res_id is None:
        raise BadRequest("mode=delete needs an instance: POST [type]/[id]/$validate?mode=delete", code="required",
                         expression=["mode"])
    stored = uow.get(res_type, res_id)
    if stored is None:
        return [Issue("not-found", f"{res_type}/{res_id} is not known: there is nothing to delete",
                      expression=(res_type,))]
    if stored.deleted:
        return [Issue("deleted", f"{res_type}/{res_id} is already deleted (version {stored.version})",
                      severity="warning", expression=(res_type,))]
    return [Issue("informational", f"{res_type}/{res_id} exists and may be deleted", severity="information")]


def operations(validator: Validator) -> list[Operation]:
    return [Operation("validate", validate_with(validator), "http://hl7.org/fhir/OperationDefinition/Resource-validate",
                      type_level=True, instance=True)]
