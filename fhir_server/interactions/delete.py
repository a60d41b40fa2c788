"""delete and conditional delete (R4 http §delete, §cdelete): soft, history kept."""

from __future__ import annotations

from fhir_server.core.errors import Issue, PreconditionFailed, operation_outcome
from fhir_server.interactions.common import check_if_match, check_if_none_match, require_type
from fhir_server.interactions.conditional import find_matches
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import UnitOfWork


def delete(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    require_type(res_type)
    current = uow.get(res_type, res_id, for_update=True)
    if current is None or current.deleted:
        # deleting what is not there has no effect (R4 http §delete)
        return FhirResponse(204)
    check_if_match(request, current)
    check_if_none_match(request, current)
    stored = uow.delete(res_type, res_id, current)
    outcome = operation_outcome([Issue("informational", f"Deleted {res_type}/{res_id} (version {stored.version})",
                                       severity="information")])
    return FhirResponse(200, outcome, stored)


def conditional_delete(uow: UnitOfWork, request: FhirRequest, res_type: str, criteria: str) -> FhirResponse:
    require_type(res_type)
    matches = find_matches(uow, res_type, criteria)
    if len(matches) > 1:
        raise PreconditionFailed(f"The criteria '{criteria}' match more than one {res_type}; "
                                 "this server deletes one resource per conditional delete", code="multiple-matches")
    if not matches:
        return FhirResponse(204)
    return delete(uow, request, res_type, matches[0].res_id)
