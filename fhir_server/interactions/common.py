"""Pieces every interaction shares: type checks, body checks, validation on write, responses."""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.core.errors import BadRequest, FHIRError, Gone, Issue, NotFound, PreconditionFailed
from fhir_server.definitions.structures import structures
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import StoredResource, UnitOfWork
from fhir_server.validation import validate_resource

Validator = Callable[[dict, str], list[Issue]]


def require_type(res_type: str) -> str:
    if not structures().is_resource_type(res_type):
        raise NotFound(f"Unknown resource type '{res_type}'", code="not-supported")
    return res_type


def body_resource(request: FhirRequest, res_type: str | None) -> dict:
    """The request body as a resource of ``res_type`` (any type when None)."""
    body = request.body
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise BadRequest("The body must be a FHIR resource (a JSON object with resourceType)", code="structure")
    if res_type and body["resourceType"] != res_type:
        raise BadRequest(f"The body is a {body['resourceType']} but the URL is for {res_type}",
                         code="invalid", expression=["resourceType"])
    return body


def validate_or_raise(resource: dict, res_type: str) -> None:
    """Base R4 validation (SPEC §2): every error at once, 400 when any."""
    issues = validate_resource(resource, res_type)
    errors = [i for i in issues if i.is_error]
    if errors:
        raise FHIRError(issues, status=400)


def current_or_raise(uow: UnitOfWork, res_type: str, res_id: str, *, for_update: bool = False) -> StoredResource:
    stored = uow.get(res_type, res_id, for_update=for_update)
    if stored is None:
        raise NotFound(f"{res_type}/{res_id} is not known")
    if stored.deleted:
        raise Gone(f"{res_type}/{res_id} was deleted (version {stored.version})",
                   headers={"ETag": stored.etag})
    return stored


def check_if_match(request: FhirRequest, current: StoredResource | None) -> None:
    """``If-Match: W/"n"`` (R4 http §concurrency): 412 unless it names the current version."""
    if request.if_match is None:
        return
    wanted = request.if_match.strip().removeprefix("W/").strip('"')
    have = str(current.version) if current and not current.deleted else None
    if wanted != have:
        raise PreconditionFailed(
            f"If-Match names version {wanted} but the current version is {have or 'none'}",
            code="conflict")


def check_if_none_match(request: FhirRequest, current: StoredResource | None) -> None:
    """``If-None-Match`` on a write (RFC 9110 §13.1.2; R4 gives it to reads only, where it is a
    304): ``*`` is 412 when the resource exists, ``W/"n", …`` is 412 when one names the current
    version; the write goes ahead otherwise (``If-None-Match: *`` on PUT: create, never replace)."""
    if request.if_none_match is None:
        return
    if current is None or current.deleted:
        return
    tags = {t.strip().removeprefix("W/").strip('"') for t in request.if_none_match.split(",")}
    if "*" in tags:
        raise PreconditionFailed(f"If-None-Match: * but {current.res_type}/{current.res_id} exists "
                                 f"(version {current.version})", code="conflict")
    if str(current.version) in tags:
        raise PreconditionFailed(f"If-None-Match names the current version {current.version}", code="conflict")


def stored_response(stored: StoredResource, status: int, base_url: str, location: bool = False) -> FhirResponse:
    loc = f"{base_url}/{stored.res_type}/{stored.res_id}/_history/{stored.version}" if location else None
    return FhirResponse(status, stored.content, stored, loc, is_stored_representation=True)
