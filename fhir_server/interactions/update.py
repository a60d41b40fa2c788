"""update, update-as-create and conditional update (R4 http §update, §cond-update)."""

from __future__ import annotations

from fhir_server.core.errors import BadRequest, Conflict
from fhir_server.interactions.common import (
    body_resource,
    check_if_match,
    check_if_none_match,
    require_type,
    stored_response,
    validate_or_raise,
)
from fhir_server.interactions.conditional import single_match
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.interactions.create import strip_server_meta
from fhir_server.interactions.read import check_id
from fhir_server.repository.base import StoredResource, UnitOfWork, same_content


def update(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    require_type(res_type)
    check_id(res_id)
    resource = body_resource(request, res_type)
    if resource.get("id") != res_id:
        raise BadRequest(f"The body's id '{resource.get('id')}' must equal the id in the URL '{res_id}'",
                         expression=[f"{res_type}.id"])
    return write_update(uow, request, res_type, res_id, resource)


def conditional_update(uow: UnitOfWork, request: FhirRequest, res_type: str, criteria: str) -> FhirResponse:
    require_type(res_type)
    body_resource(request, res_type)
    return update_matched(uow, request, res_type, criteria, single_match(uow, res_type, criteria, deciding_write=True))


def update_matched(uow: UnitOfWork, request: FhirRequest, res_type: str, criteria: str,
                   match: StoredResource | None) -> FhirResponse:
    """A conditional update once its criteria were matched (a transaction matches them when it
    plans its entries, against the state before any entry is written)."""
    resource = body_resource(request, res_type)
    body_id = resource.get("id")
    if match is not None:
        if body_id and body_id != match.res_id:
            raise BadRequest(f"The body's id '{body_id}' differs from the matching {match.reference}",
                             expression=[f"{res_type}.id"])
        return write_update(uow, request, res_type, match.res_id, resource)
    if body_id:
        check_id(body_id)
        existing = uow.get(res_type, body_id)
        if existing is not None and not existing.deleted:
            raise Conflict(f"No {res_type} matches '{criteria}', but {res_type}/{body_id} exists already")
        return write_update(uow, request, res_type, body_id, resource)
    return write_update(uow, request, res_type, uow.new_id(), resource)


def write_update(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str, resource: dict) -> FhirResponse:
    current = uow.get(res_type, res_id, for_update=True)
    check_if_match(request, current)
    check_if_none_match(request, current)
    resource = strip_server_meta(resource)
    validate_or_raise(resource, res_type)
    live = current is not None and not current.deleted
    if live and current is not None and current.content is not None and same_content(current.content, resource):
        # nothing changed: no new version (idempotent re-sends and re-imports)
        return stored_response(current, 200, request.base_url)
    stored = uow.save("PUT", res_type, res_id, resource, current)
    return stored_response(stored, 200 if live else 201, request.base_url, location=not live)
