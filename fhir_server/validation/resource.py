"""``validate_resource``: is this R4 resource acceptable, and why not? (FHIR R4 §2 baseline, §6)

Runs both layers on one resource and returns every issue at once, so a client fixes
everything in one round trip (STYLE: "collect every issue, raise once"):

1. the official R4 JSON Schema (:mod:`.schema`): JSON types, unknown elements, code enums;
2. the R4 element tree (:mod:`.walker`): required elements, primitive values, empty
   values, bindings on CodeableConcept/Coding, and nested resources, each validated by its
   own ``resourceType`` with the outer location as prefix
   (``Bundle.entry[3].resource.status``);
3. a Bundle's own rules (:mod:`.bundle`): fullUrl, uniqueness, links, references inside it;
   a Bundle signature's signed content (:mod:`.signature`); references between the
   resources a Parameters carries (:mod:`.parameters`);
   conformance resources against the definitions they name (:mod:`.definitional`).

Issue codes: ``structure`` (unknown element, wrong JSON type, empty object/array),
``required`` (missing mandatory element or resourceType), ``value`` (bad primitive value),
``code-invalid`` (code outside a required value set), ``invalid`` (not a resource of the
expected type, anything else).
"""

from __future__ import annotations

import difflib

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import structures
from fhir_server.validation.base_invariants import InvariantWalker
from fhir_server.validation.bundle import bundle_issues
from fhir_server.validation.definitional import definitional_issues
from fhir_server.validation.parameters import parameters_issues
from fhir_server.validation.schema import schema_issues
from fhir_server.validation.search_parameter import search_parameter_issues
from fhir_server.validation.signature import signature_issues
from fhir_server.validation.walker import walk


def validate_resource(resource: object, expected_type: str | None = None) -> list[Issue]:
    """Every problem with ``resource`` as an R4 resource (of ``expected_type``, when given); [] if none."""
    try:
        return _validate(resource, expected_type, None)
    except RecursionError:
        return [_too_deep(expected_type)]


def validate_with_invariants(resource: object, expected_type: str | None = None,
                             holders: set[int] | None = None) -> tuple[list[Issue], list[Issue] | None]:
    """:func:`validate_resource` and, in the same walk, the base invariants of ``resource``
    (:func:`.base_invariants.base_invariant_issues`); None for those when the walk did not reach
    every element (an object that is no resource, an unknown or unexpected type, too deep): the
    caller asks for them on their own (issue 19).  Given ``holders``, the same walk adds to it
    :func:`.core_extensions.extension_holders` of ``resource``, complete when the invariants are
    returned."""
    invariants = InvariantWalker(resource) if isinstance(resource, dict) else None
    try:
        issues = _validate(resource, expected_type, None, invariants, holders)
    except RecursionError:
        return [_too_deep(expected_type)], None
    return issues, invariants.issues if invariants is not None and invariants.done else None


def _too_deep(expected_type: str | None) -> Issue:
    return Issue("structure", "The resource is nested too deeply to be processed",
                 expression=(expected_type or "Resource",))


def _validate(resource: object, expected_type: str | None, where: str | None,
              invariants: InvariantWalker | None = None, holders: set[int] | None = None) -> list[Issue]:
    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    base = where or (resource_type if isinstance(resource_type, str) and resource_type else None) \
        or expected_type or "Resource"
    issues = _identity(resource, resource_type, expected_type, base)
    if issues and not (isinstance(resource_type, str) and structures().is_resource_type(resource_type)):
        return issues
    assert isinstance(resource, dict) and isinstance(resource_type, str)
    schema = schema_issues(resource, resource_type, base)
    seen = {(i.code, i.expression) for i in schema if i.code in ("code-invalid", "structure")}
    issues += schema
    # a code the schema's enum already refused, or a null it already reported, is not reported again
    issues += [i for i in walk(resource, resource_type, base, lambda inner, loc: _validate(inner, None, loc),
                               invariants, holders) if (i.code, i.expression) not in seen]
    if resource_type == "Bundle":
        issues += bundle_issues(resource, base) + signature_issues(resource, base)
    elif resource_type == "Parameters":
        issues += parameters_issues(resource, base)
    issues += definitional_issues(resource, base)
    if resource_type == "SearchParameter":
        issues += search_parameter_issues(resource, base)
    return issues


def _identity(resource: object, resource_type: object, expected_type: str | None, base: str) -> list[Issue]:
    """Is it a JSON object with a known resourceType, and the one expected?"""
    if not isinstance(resource, dict):
        return [Issue("structure", "A resource must be a JSON object", expression=(base,))]
    if resource_type is None:
        return [Issue("required", "Missing 'resourceType': a resource must say which type it is "
                      f"(e.g. \"resourceType\": \"{expected_type or 'Patient'}\")", expression=(base,))]
    registry = structures()
    if not isinstance(resource_type, str) or not registry.is_resource_type(resource_type):
        hint = difflib.get_close_matches(str(resource_type), registry.resource_types, n=1)
        message = f"Unknown resourceType {resource_type!r}: not an R4 resource type"
        return [Issue("invalid", message + (f"; did you mean {hint[0]!r}?" if hint else ""), expression=(base,))]
    if expected_type and resource_type != expected_type:
        return [Issue("invalid", f"Expected a {expected_type} resource here, got {resource_type}",
                      expression=(base,))]
    return []
