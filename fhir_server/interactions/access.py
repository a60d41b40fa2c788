"""Scopes and relationships enforced on every interaction (SPEC §6, Appendix A "Security").

:func:`authorize` runs before an interaction (also for every batch/transaction entry): it finds
the permission the interaction needs (SMART v2 letters), asks :mod:`fhir_server.auth.access`
for the grant, and checks the instance the interaction is about; :func:`after_write` checks the
written resource before its transaction commits.  Searches carry the grant's reach into SQL
(:func:`limit_search`).  Refusals are 403; the AuditEvent of a refusal is written by the router.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fhir_server import search as engine
from fhir_server.auth.access import Grant, grant
from fhir_server.auth.scopes import CREATE, DELETE, READ, SEARCH, UPDATE
from fhir_server.core.errors import Forbidden, MethodNotAllowed
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import UnitOfWork, same_content, without_server_meta
from fhir_server.search.request import AnyTest, SearchRequest

# type-level operations that read no one's record: allowed to every token with the scope
RECORDLESS_OPERATIONS = {"validate", "expand", "lookup", "validate-code", "translate", "subsumes", "meta"}
# operations that check the scope and reach of every type they read themselves ($export)
SELF_CHECKED_OPERATIONS = {"export"}
_PERMISSION = {
    ("type", "GET"): SEARCH, ("search", "POST"): SEARCH, ("system", "GET"): SEARCH,
    ("compartment", "GET"): SEARCH, ("type", "POST"): CREATE,
    ("instance", "GET"): READ, ("vread", "GET"): READ, ("history", "GET"): READ,
    ("instance", "PUT"): UPDATE, ("instance", "PATCH"): UPDATE, ("type", "PUT"): UPDATE,
    ("type", "PATCH"): UPDATE, ("instance", "DELETE"): DELETE, ("type", "DELETE"): DELETE,
}


def authorize(uow: UnitOfWork, request: FhirRequest, kind: str, res_type: str | None, res_id: str | None,
              extra: str | None = None, read_only: bool = True) -> Grant:
    """The grant under which the interaction runs; :class:`Forbidden` when out of scope or reach."""
    principal = request.principal
    if principal.open:
        return Grant()
    method = "GET" if request.method == "HEAD" else request.method
    if kind == "operation":
        return _operation(uow, request, res_type, res_id, extra or "", read_only)
    permission = _PERMISSION.get((kind, method))
    if permission is None:
        return Grant()  # not an interaction: the handler answers 405/404
    if kind == "system" or (kind == "compartment" and extra == "*") or (kind == "history" and res_type is None):
        return _all_types(request, permission, kind)
    target = extra if kind == "compartment" else res_type
    if permission == UPDATE and kind == "instance" and uow.get(res_type or "", res_id or "") is None:
        permission = CREATE  # update as create
    granted = require(request, target or "", permission)
    if kind == "history" and res_id is None and granted.limited:
        raise Forbidden(f"The history of all {res_type} resources needs a system/ scope; "
                        "read the history of a resource you can see instead")
    if kind in ("instance", "vread", "history") and res_id and permission != CREATE:
        require_visible(uow, granted, res_type or "", res_id)
    return granted


def refuse_audit_changes(uow: UnitOfWork, request: FhirRequest, kind: str, res_type: str | None,
                         res_id: str | None, read_only: bool = True) -> None:
    """AuditEvents are written once (by the server, or created by a client) and never changed or
    deleted through the API: 405 for PATCH, DELETE, a writing operation, a conditional update and
    an update of one that exists (a PUT that creates is a create)."""
    if res_type != "AuditEvent":
        return
    method = request.method
    changes = method in ("PATCH", "DELETE") or not read_only
    if method == "PUT":
        current = uow.get(res_type, res_id or "") if kind == "instance" else None
        resent = current is not None and not current.deleted and isinstance(request.body, dict) and same_content(
            current.content or {}, without_server_meta(request.body))
        changes = kind != "instance" or (current is not None and not resent)  # the same content again: no change
    if changes:
        raise MethodNotAllowed("AuditEvents cannot be changed or deleted")


def require(request: FhirRequest, res_type: str, permission: str) -> Grant:
    granted = grant(request.principal, res_type, permission)
    if granted is None:
        raise Forbidden(f"The token's scopes do not allow '{permission}' on {res_type}", code="forbidden")
    return granted


def require_visible(uow: UnitOfWork, granted: Grant, res_type: str, res_id: str) -> None:
    """403 when the resource exists and is out of the grant's reach (one that does not exist is
    the interaction's 404).  Visible first: the usual case costs one query."""
    if granted.limited and not visible(uow, granted, res_type, res_id) and uow.get(res_type, res_id) is not None:
        raise Forbidden(f"{res_type}/{res_id} is not among the records this user may see")


def visible(uow: UnitOfWork, granted: Grant, res_type: str, res_id: str) -> bool:
    """Is the resource within the grant's reach and scope restrictions?  One query in SQL: the
    instance under the reach, or (with v2 restrictions) a count of a search of it."""
    if not granted.restrictions:
        return granted.reach is None or uow.within_reach(res_type, res_id, granted.reach)
    for restriction in granted.restrictions:
        parsed = engine.parse_search(res_type, [("_id", res_id), *restriction], registry=uow.search_params())
        page = uow.search(replace(parsed, reach=granted.reach, summary="count"))
        if page.total:
            return True
    return False


def after_write(uow: UnitOfWork, request: FhirRequest, granted: Grant, response: FhirResponse) -> None:
    """A write's result must stay within what the writer may see (a doctor cannot file an
    Observation under a resident who is not theirs); a new Patient is anyone's to register."""
    stored = response.stored
    if not granted.limited or stored is None or stored.deleted:
        return
    if stored.res_type == "Patient" and response.status == 201:
        return
    if not visible(uow, granted, stored.res_type, stored.res_id):
        raise Forbidden(f"The written {stored.res_type} would refer to a record this user may not see")


def checked_write(uow: UnitOfWork, request: FhirRequest, res_type: str,
                  write: Callable[[], FhirResponse]) -> FhirResponse:
    """A transaction entry the transaction writes itself (creates, conditional matches): the
    same check as :func:`authorize` and :func:`after_write` around it."""
    refuse_audit_changes(uow, request, "type", res_type, None)
    request.grant = authorize(uow, request, "type", res_type, None)
    response = write()
    after_write(uow, request, request.grant, response)
    return response


def limit_search(parsed: SearchRequest, granted: Grant | None, request: FhirRequest) -> SearchRequest:
    """The grant's reach and restrictions as part of the query; includes of types out of scope refused."""
    for include in parsed.includes:
        target = include.source_type if include.reverse else include.target_type
        if target and target != "*":
            require(request, target, SEARCH)
    if granted is None or not granted.limited:
        return parsed
    extra = _restriction_tests(parsed.resource_type, granted)
    return replace(parsed, reach=granted.reach, where=parsed.where + extra)


def readable(request: FhirRequest, res_type: str) -> bool:
    """May the principal see resources of ``res_type`` at all (includes, operation results)?"""
    principal = request.principal
    return principal.open or grant(principal, res_type, READ) is not None or grant(
        principal, res_type, SEARCH) is not None


def filter_entries(request: FhirRequest, response: FhirResponse) -> FhirResponse:
    """An operation's Bundle without the entries of types the token may not read ($everything)."""
    body = response.resource
    if request.principal.open or not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return response
    entries = body.get("entry") or []
    kept = [e for e in entries if readable(request, (e.get("resource") or {}).get("resourceType", ""))]
    if len(kept) != len(entries):
        body["entry"] = kept
    return response


def _operation(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None,
               name: str, read_only: bool) -> Grant:
    if name in SELF_CHECKED_OPERATIONS:
        return Grant()
    permission = READ if read_only else UPDATE
    granted = require(request, res_type or "*", permission)
    if res_id:
        require_visible(uow, granted, res_type or "", res_id)
    elif granted.limited and name not in RECORDLESS_OPERATIONS:
        raise Forbidden(f"${name} at {'type' if res_type else 'system'} level needs a system/ scope")
    return granted


def _all_types(request: FhirRequest, permission: str, kind: str) -> Grant:
    """A search or history across types: each type asked for (``_type``) or every type (``*``)."""
    types = [t for v in request.query if v[0] == "_type" for t in v[1].split(",") if t] or ["*"]
    grants = [require(request, t, permission) for t in types]
    if any(g.restrictions for g in grants) or (kind == "history" and any(g.limited for g in grants)):
        raise Forbidden("A search across types cannot apply scope restrictions; search each type")
    return next((g for g in grants if g.limited), grants[0])


def _restriction_tests(res_type: str | None, granted: Grant) -> tuple:
    if not granted.restrictions:
        return ()
    if res_type is None:
        raise Forbidden("Scope restrictions apply to searches of one type")
    sets = [engine.parse_search(res_type, list(r)).where for r in granted.restrictions]
    if len(sets) == 1:
        return sets[0]
    if any(len(s) != 1 for s in sets):
        raise Forbidden("Several scopes restrict this type by several parameters each; ask for one scope")
    return (AnyTest(tuple(s[0] for s in sets)),)
