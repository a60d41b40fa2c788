"""``$export`` at system, Patient and Group level (Bulk Data IG 2.0.0 kick-off): 202 and the
status URL in ``Content-Location``; the work is a job row that a worker picks up.

Access (SPEC §6): a token exports what it may search.  A ``_type`` the token may not search is
refused (403) here; without ``_type`` the types it may not search are left out.  The reach of
``user/`` and ``patient/`` tokens limits every type as it limits a search; a Group the token
cannot see is 403.  Each client has at most ``JIAYI_EXPORT_JOBS_PER_CLIENT`` exports queued or
running; one more is 429 with ``Retry-After``.
"""

from __future__ import annotations

import uuid

from fhir_server.auth.access import grant
from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import SEARCH
from fhir_server.bulk import kickoff
from fhir_server.bulk.jobs import JobStore, client_key, utc_now
from fhir_server.bulk.manifest import status_url
from fhir_server.config import Settings
from fhir_server.core.errors import BadRequest, FHIRError, Forbidden, Issue, NotFound, operation_outcome
from fhir_server.interactions import access
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import UnitOfWork

BULK = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"


class ExportOperation:
    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def operations(self) -> list[Operation]:
        return [Operation("export", self.handle, BULK + "export", system=True),
                Operation("export", self.handle, BULK + "patient-export", type_level=True, resource_types=("Patient",)),
                Operation("export", self.handle, BULK + "group-export", instance=True, resource_types=("Group",))]

    def handle(self, uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
        if not request.prefer.respond_async:
            raise BadRequest("$export runs asynchronously: send 'Prefer: respond-async'", code="required")
        level = kickoff.GROUP if res_id else kickoff.PATIENT if res_type else kickoff.SYSTEM
        items = kickoff.parameters(request.query, request.body if request.method == "POST" else None)
        url = f"{request.base_url}/{request.path}" + (f"?{_query(request.query)}" if request.query else "")
        parsed = kickoff.parse(items, level, url, uow.search_params(), strict=request.prefer.handling == "strict",
                               posted=request.method == "POST")
        _check_types(request.principal, parsed.types)
        if level == kickoff.GROUP:
            parsed = _with_members(uow, request, res_id or "", parsed)
        self._check_quota(request.principal)
        job_id = uuid.uuid4().hex
        now = utc_now()
        self.store.create(job_id, request.principal, parsed, now.replace(microsecond=now.microsecond // 1000 * 1000))
        message = f"Export {job_id} accepted; poll its status URL (Content-Location)"
        return FhirResponse(202, operation_outcome([Issue("informational", message, severity="information")]),
                            headers={"Content-Location": status_url(request.base_url, job_id)})

    def _check_quota(self, principal: Principal) -> None:
        limit = self.settings.export_jobs_per_client
        if self.store.active(client_key(principal)) >= limit:
            raise FHIRError(f"This client already has {limit} export(s) queued or running; wait for one to finish "
                            "or cancel it (DELETE its status URL)", status=429, code="throttled",
                            headers={"Retry-After": "60"})


def _check_types(principal: Principal, types: tuple[str, ...]) -> None:
    if not principal.open and not any(SEARCH in s.permissions for s in principal.scopes):
        raise Forbidden("The token's scopes allow searching no resource type, so there is nothing to export")
    refused = [t for t in types if grant(principal, t, SEARCH) is None]
    if refused:
        raise Forbidden(f"The token's scopes do not allow searching {', '.join(refused)}", expression=["_type"])


def _with_members(uow: UnitOfWork, request: FhirRequest, group_id: str, parsed: kickoff.ExportRequest
                  ) -> kickoff.ExportRequest:
    """A Group's export is its members' (``Group.member.entity`` Patients, inactive ones left out),
    narrowed by the ``patient`` parameter when given."""
    group = uow.get("Group", group_id)
    if group is None or group.deleted or group.content is None:
        raise NotFound(f"Group/{group_id} is not known")
    access.require_visible(uow, access.require(request, "Group", SEARCH), "Group", group_id)
    members = []
    for member in group.content.get("member") or []:
        reference = (member.get("entity") or {}).get("reference") or ""
        if reference.startswith("Patient/") and not member.get("inactive"):
            members.append(reference.split("/", 1)[1])
    chosen = [m for m in members if m in parsed.patients] if parsed.patients else members
    return kickoff.ExportRequest(**{**parsed.to_json(), "patients": tuple(dict.fromkeys(chosen)), "group": group_id,
                                    "types": parsed.types, "type_filters": parsed.type_filters,
                                    "associated": parsed.associated})


def _query(query: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)

