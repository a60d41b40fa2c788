"""Which interaction a request is (R4 http §summary of the URL patterns), and the unit of work
it runs in.  Operations are looked up through an injected registry (they live a layer above)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fhir_server.auth import acting
from fhir_server.auth.audit import Audited
from fhir_server.auth.principal import unauthenticated
from fhir_server.core.errors import BadRequest, FHIRError, MethodNotAllowed, NotFound
from fhir_server.core.references import is_valid_id
from fhir_server.interactions import (
    access,
    audit,
    create,
    delete,
    history,
    patch,
    read,
    search,
    transaction,
    update,
)
from fhir_server.interactions.audit import AuditTrail
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import DatabaseBusy, Repository, UnitOfWork
from fhir_server.validation.bundle import bundle_issues


class Operations(Protocol):
    def invoke(self, uow: UnitOfWork, request: FhirRequest, name: str, res_type: str | None,
               res_id: str | None) -> FhirResponse: ...

    def is_read_only(self, name: str, method: str = "GET") -> bool: ...


@dataclass(frozen=True, slots=True)
class Route:
    kind: str  # system | type | instance | history | vread | search | operation | compartment | metadata
    res_type: str | None = None
    res_id: str | None = None
    extra: str | None = None  # version id, operation name or compartment target type


def parse_path(path: str) -> Route:
    route = _route(path)
    if route.res_id is not None and not is_valid_id(route.res_id):
        # checked before any SQL: PostgreSQL text cannot even hold some of what a URL can carry (NUL)
        raise BadRequest(f"'{route.res_id[:80]}' is not a valid resource id ([A-Za-z0-9-.], 1 to 64 characters)",
                         code="value")
    return route


def _route(path: str) -> Route:
    parts = [p for p in path.strip("/").split("/") if p]
    n = len(parts)
    if n == 0:
        return Route("system")
    head = parts[0]
    if head == "metadata" and n == 1:
        return Route("metadata")
    if head == "_history" and n == 1:
        return Route("history")
    if head.startswith("$") and n == 1:
        return Route("operation", extra=head[1:])
    if n == 1:
        return Route("type", head)
    second = parts[1]
    if n == 2 and second == "_search":
        return Route("search", head)
    if n == 2 and second == "_history":
        return Route("history", head)
    if n == 2 and second.startswith("$"):
        return Route("operation", head, extra=second[1:])
    if n == 2:
        return Route("instance", head, second)
    if n == 3 and parts[2] == "_history":
        return Route("history", head, second)
    if n == 3 and parts[2].startswith("$"):
        return Route("operation", head, second, parts[2][1:])
    if n == 3:
        return Route("compartment", head, second, parts[2])
    if n == 4 and parts[2] == "_history":
        return Route("vread", head, second, parts[3])
    raise NotFound(f"No FHIR interaction is at '{path}'", code="not-supported")


class Router:
    def __init__(self, repo: Repository, operations: Operations, capabilities: Callable[[FhirRequest], dict],
                 audit: AuditTrail | None = None) -> None:
        self.repo = repo
        self.operations = operations
        self.capabilities = capabilities
        self.audit = audit

    def audit_unauthenticated(self, method: str, path: str, remote_addr: str | None, reason: str) -> None:
        """Record a request refused with 401 (no valid token): its address, what it asked for, why."""
        if self.audit is None:
            return
        try:
            route: Route | None = parse_path(path)
        except FHIRError:
            route = None
        self.audit.record(None, unauthenticated(remote_addr), audit.unauthenticated(
            method, route.kind if route else None, route.res_type if route else None,
            route.res_id if route else None, reason))

    def handle(self, request: FhirRequest) -> FhirResponse:
        """Run ``request`` in its own unit of work (a batch opens one per entry)."""
        with acting.acting_as(request.principal):  # write rules that remember the writer
            return self._handle(request)

    def _handle(self, request: FhirRequest) -> FhirResponse:
        route = parse_path(request.path)
        if route.kind == "metadata" and request.method in ("GET", "HEAD"):
            return FhirResponse(200, self.capabilities(request))
        if route.kind == "system" and request.method == "POST":
            return self._bundle(request)
        if self._writes(request, route):
            with self.repo.unit_of_work(write=True) as uow:
                return self.dispatch(uow, request, route)
        try:
            with self.repo.unit_of_work(write=False) as uow:
                return self.dispatch(uow, request, route)
        except DatabaseBusy:
            # A search that stores its result list for paging writes inside a read transaction;
            # on SQLite that fails at once when another writer committed since the transaction's
            # snapshot.  A read has no effects: run it again as a writer, which waits its turn.
            with self.repo.unit_of_work(write=True) as uow:
                return self.dispatch(uow, request, route)

    def _writes(self, request: FhirRequest, route: Route) -> bool:
        if route.kind == "operation":
            return not self.operations.is_read_only(route.extra or "", request.method)
        return request.method not in ("GET", "HEAD") and route.kind != "search"

    def _bundle(self, request: FhirRequest) -> FhirResponse:
        body = request.body
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise BadRequest("POST to the base URL takes a Bundle of type batch or transaction", code="invalid")
        entries = body.get("entry") or []
        if not isinstance(entries, list):
            raise BadRequest("Bundle.entry must be an array", code="structure", expression=["Bundle.entry"])
        issues = bundle_issues(body)  # the Bundle's own rules (fullUrl, links); each entry is validated as written
        if any(i.is_error for i in issues):
            raise BadRequest(issues)
        if body.get("type") == "batch":
            return transaction.batch(self.repo, request, entries, self._dispatch_entry)
        if body.get("type") == "transaction":
            try:
                with self.repo.unit_of_work(write=True) as uow:
                    response = transaction.transaction(uow, request, entries, self._transaction_entry)
                    for audited in (audit.transaction_entries(entries, response, uow) if self.audit else ()):
                        self.audit.record(uow, request.principal, audited)  # type: ignore[union-attr]
                    return response
            except FHIRError as error:
                if self.audit is not None and error.status in (401, 403):
                    self.audit.record(None, request.principal, Audited("transaction", error.status, message=str(error)))
                raise
        raise BadRequest(f"Bundle.type must be batch or transaction, not '{body.get('type')}'",
                         expression=["Bundle.type"])

    def _dispatch_entry(self, uow: UnitOfWork, request: FhirRequest, audited: bool = True) -> FhirResponse:
        route = parse_path(request.path)
        if route.kind in ("system", "metadata"):
            raise BadRequest("A batch or transaction entry cannot be another batch or the metadata")
        return self.dispatch(uow, request, route, audited)

    def _transaction_entry(self, uow: UnitOfWork, request: FhirRequest) -> FhirResponse:
        return self._dispatch_entry(uow, request, audited=False)  # the transaction audits its entries

    def dispatch(self, uow: UnitOfWork, request: FhirRequest, route: Route, audited: bool = True) -> FhirResponse:
        """Authorize (SPEC §6), run the interaction, check what it wrote, and audit it."""
        trail = self.audit if audited else None
        try:
            response = self._authorized(uow, request, route)
        except FHIRError as error:
            if trail is not None:
                about = audit.residents_of(uow, route.kind, route.res_type, route.res_id) if error.status in (
                    403, 404) else []
                trail.record(None, request.principal, audit.audited(
                    request, route.kind, route.res_type, route.res_id, route.extra, status=error.status,
                    message=str(error), patients=about, uow=uow))
            raise
        if trail is not None:
            writes = self._writes(request, route)
            trail.record(uow if writes else None, request.principal, audit.audited(
                request, route.kind, route.res_type, route.res_id, route.extra, response, response.status, uow=uow))
        return response

    def _authorized(self, uow: UnitOfWork, request: FhirRequest, route: Route) -> FhirResponse:
        read_only = route.kind != "operation" or self.operations.is_read_only(route.extra or "", request.method)
        access.refuse_audit_changes(uow, request, route.kind, route.res_type, route.res_id, read_only)
        request.grant = access.authorize(uow, request, route.kind, route.res_type, route.res_id, route.extra,
                                         read_only)
        response = self._interaction(uow, request, route)
        if route.kind == "operation":
            if not read_only:  # what an operation wrote stays within reach, like a write's result
                access.after_write(uow, request, request.grant, response)
            return access.filter_entries(request, response)
        if request.method in ("POST", "PUT", "PATCH") and route.kind != "search":
            access.after_write(uow, request, request.grant, response)
        return response

    def _interaction(self, uow: UnitOfWork, request: FhirRequest, route: Route) -> FhirResponse:
        method, t, i = request.method, route.res_type, route.res_id
        handler = _HANDLERS.get((route.kind, "GET" if method == "HEAD" else method))
        if route.kind == "operation":
            return self.operations.invoke(uow, request, route.extra or "", t, i)
        criteria = _criteria(request) if route.kind == "type" else ""
        if criteria and t is not None and method in _CONDITIONAL:  # a type route always names its type
            return _CONDITIONAL[method](uow, request, t, criteria)
        if handler is None:
            raise MethodNotAllowed(f"{method} is not supported at '{request.path or '/'}'")
        return handler(uow, request, route)


def _criteria(request: FhirRequest) -> str:
    from urllib.parse import urlencode

    # ':' '|' '/' ',' '$' kept as written: the criteria also name the condition in messages
    return urlencode([(k, v) for k, v in request.query if k not in ("_format", "_pretty")], safe=":|/,$")


def _conditional_create(uow: UnitOfWork, request: FhirRequest, res_type: str, criteria: str) -> FhirResponse:
    """``POST [type]?criteria``: the query is the If-None-Exist condition (as fhirpy sends it)."""
    request.if_none_exist = request.if_none_exist or criteria
    return create.create(uow, request, res_type)


_CONDITIONAL = {
    "POST": _conditional_create,
    "PUT": update.conditional_update,
    "DELETE": delete.conditional_delete,
    "PATCH": patch.conditional_patch,
}

_HANDLERS = {
    ("system", "GET"): lambda uow, rq, r: search.search_system(uow, rq),
    ("history", "GET"): lambda uow, rq, r: history.history(uow, rq, r.res_type, r.res_id),
    ("type", "GET"): lambda uow, rq, r: search.search_type(uow, rq, r.res_type),
    ("search", "POST"): lambda uow, rq, r: search.search_type(uow, rq, r.res_type),
    ("type", "POST"): lambda uow, rq, r: create.create(uow, rq, r.res_type),
    ("instance", "GET"): lambda uow, rq, r: read.read(uow, rq, r.res_type, r.res_id),
    ("instance", "PUT"): lambda uow, rq, r: update.update(uow, rq, r.res_type, r.res_id),
    ("instance", "PATCH"): lambda uow, rq, r: patch.patch(uow, rq, r.res_type, r.res_id),
    ("instance", "DELETE"): lambda uow, rq, r: delete.delete(uow, rq, r.res_type, r.res_id),
    ("vread", "GET"): lambda uow, rq, r: read.vread(uow, rq, r.res_type, r.res_id, r.extra),
    ("compartment", "GET"): lambda uow, rq, r: search.search_compartment(uow, rq, r.res_type, r.res_id, r.extra),
}
