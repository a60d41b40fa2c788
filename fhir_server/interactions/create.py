"""create and conditional create (R4 http §create, §ccreate)."""

from __future__ import annotations

from fhir_server.interactions.common import body_resource, require_type, stored_response, validate_or_raise
from fhir_server.interactions.conditional import single_match
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import StoredResource, UnitOfWork, without_server_meta


def create(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str | None = None) -> FhirResponse:
    """POST [type]; ``res_id`` is a server id chosen ahead (a transaction's urn:uuid entries)."""
    require_type(res_type)
    resource = body_resource(request, res_type)
    if request.if_none_exist:
        existing = single_match(uow, res_type, request.if_none_exist, deciding_write=True)
        if existing is not None:
            return stored_response(existing, 200, request.base_url, location=True)
    stored = create_resource(uow, res_type, resource, res_id or uow.new_id(), "POST")
    return stored_response(stored, 201, request.base_url, location=True)


def create_resource(uow: UnitOfWork, res_type: str, resource: dict, res_id: str, method: str,
                    previous: StoredResource | None = None) -> StoredResource:
    resource = strip_server_meta(resource)
    validate_or_raise(resource, res_type)
    return uow.save(method, res_type, res_id, resource, previous)


# the client's id, versionId and lastUpdated are dropped: the server assigns them
strip_server_meta = without_server_meta
