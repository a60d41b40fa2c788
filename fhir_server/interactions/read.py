"""read and vread (R4 http §read, §vread), with If-None-Match / If-Modified-Since → 304."""

from __future__ import annotations

from fhir_server.core.errors import BadRequest, Gone, NotFound
from fhir_server.core.numbers import bounded_int
from fhir_server.interactions.common import current_or_raise, require_type, stored_response
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import StoredResource, UnitOfWork


def read(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str) -> FhirResponse:
    require_type(res_type)
    stored = current_or_raise(uow, res_type, res_id)
    if _not_modified(request, stored):
        return FhirResponse(304, None, stored)
    return stored_response(stored, 200, request.base_url)


def vread(uow: UnitOfWork, request: FhirRequest, res_type: str, res_id: str, version: str) -> FhirResponse:
    require_type(res_type)
    number = bounded_int(version)
    if number is None:
        raise NotFound(f"{res_type}/{res_id} has no version '{version[:40]}'")
    stored = uow.get_version(res_type, res_id, number)
    if stored is None:
        if uow.get(res_type, res_id) is None:
            raise NotFound(f"{res_type}/{res_id} is not known")
        raise NotFound(f"{res_type}/{res_id} has no version {version}")
    if stored.deleted:
        raise Gone(f"Version {version} of {res_type}/{res_id} is a deletion", headers={"ETag": stored.etag})
    if _not_modified(request, stored):
        return FhirResponse(304, None, stored)
    return stored_response(stored, 200, request.base_url)


def _not_modified(request: FhirRequest, stored: StoredResource) -> bool:
    if request.if_none_match is not None:
        tags = {t.strip().removeprefix("W/").strip('"') for t in request.if_none_match.split(",")}
        return str(stored.version) in tags or "*" in tags
    if request.if_modified_since is not None:
        # HTTP dates have second precision
        return stored.last_updated.replace(microsecond=0) <= request.if_modified_since
    return False


def check_id(res_id: str) -> None:
    from fhir_server.core.references import is_valid_id

    if not is_valid_id(res_id):
        raise BadRequest(f"'{res_id}' is not a valid FHIR id ([A-Za-z0-9-.]{{1,64}})", expression=["id"])
