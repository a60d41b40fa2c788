"""batch and transaction (R4 http §transaction, §batch).

A transaction is one unit of work: every entry succeeds or nothing is written.  Entries are
processed in the order the spec prescribes — DELETE, POST, PUT/PATCH, then GET/HEAD — after
``urn:uuid:`` and conditional references have been resolved in every Reference of every
entry; the response lists the entries in the order of the request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlencode

from fhir_server.core.budget import checkpoint
from fhir_server.core.errors import BadRequest, FHIRError, PreconditionFailed
from fhir_server.core.references import parse_reference, rewrite_references
from fhir_server.interactions import access
from fhir_server.interactions import create as create_interaction
from fhir_server.interactions import update as update_interaction
from fhir_server.interactions.bundles import bundle
from fhir_server.interactions.common import require_type, stored_response
from fhir_server.interactions.conditional import find_matches, lock_key, single_match
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.interactions.entries import entry_request, error_entry, response_entry
from fhir_server.repository.base import Repository, StoredResource, UnitOfWork

Dispatch = Callable[[UnitOfWork, FhirRequest], FhirResponse]
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


def batch(repo: Repository, request: FhirRequest, entries: list[dict], dispatch: Dispatch) -> FhirResponse:
    """Each entry on its own: one failing entry does not affect the others."""
    out = []
    for index, entry in enumerate(entries):
        checkpoint()
        try:
            sub = entry_request(request, entry, index)
            with repo.unit_of_work(write=sub.method not in ("GET", "HEAD")) as uow:
                out.append(response_entry(dispatch(uow, sub), sub))
        except FHIRError as error:
            out.append(error_entry(error))
    return FhirResponse(200, bundle("batch-response", out))


def transaction(uow: UnitOfWork, request: FhirRequest, entries: list[dict], dispatch: Dispatch) -> FhirResponse:
    subs = [entry_request(request, entry, i) for i, entry in enumerate(entries)]
    plan = _Plan(uow, request.base_url)
    for index, (entry, sub) in enumerate(zip(entries, subs, strict=True)):
        _at_entry(index, plan.assign, index, entry, sub)
    for index, sub in enumerate(subs):
        if isinstance(sub.body, dict):
            _at_entry(index, plan.rewrite, sub.body)
    plan.check_unique(subs)
    # every entry that writes Type/id reads its current version first: one query for all of them
    uow.prefetch([*(_type_and_id(sub.path) for sub in subs
                    if sub.method in ("PUT", "PATCH", "DELETE") and not sub.query and sub.path.count("/") == 1),
                  *((m.res_type, m.res_id) for m in plan.matched.values() if m is not None)])
    responses: dict[int, dict] = {}
    for index in sorted(range(len(subs)), key=lambda i: ORDER[subs[i].method]):
        checkpoint()
        responses[index] = _at_entry(index, plan.execute, index, subs[index], dispatch)
    return FhirResponse(200, bundle("transaction-response", [responses[i] for i in range(len(subs))]))


def _type_and_id(path: str) -> tuple[str, str]:
    res_type, res_id = path.split("/", 1)
    return res_type, res_id


def _conditional(sub: FhirRequest) -> bool:
    return bool(sub.query) and "/" not in sub.path


def _at_entry(index: int, func: Callable, *args):
    """Run one step for entry ``index``; an error says which entry failed."""
    try:
        return func(*args)
    except FHIRError as error:
        issues = [replace(i, diagnostics=f"Bundle.entry[{index}]: {i.diagnostics}",
                          expression=i.expression or (f"Bundle.entry[{index}]",)) for i in error.issues]
        raise FHIRError(issues, status=error.status, headers=error.headers) from None


class _Plan:
    """Where every entry's resource will live, decided before anything is written."""

    def __init__(self, uow: UnitOfWork, base_url: str) -> None:
        self.uow = uow
        self.base_url = base_url
        self.targets: dict[str, str] = {}  # fullUrl -> Type/id
        self.preassigned: dict[int, str] = {}  # POST entry index -> new id
        self.existing: dict[int, StoredResource] = {}  # conditional create that matched
        self.matched: dict[int, StoredResource | None] = {}  # conditional update -> its match (None: none)
        self.creating: dict[str, int] = {}  # canonical ifNoneExist -> the entry that creates it
        self.same_as: dict[int, int] = {}  # conditional create -> the earlier entry with its condition

    def assign(self, index: int, entry: dict, sub: FhirRequest) -> None:
        full_url = entry.get("fullUrl")
        if sub.method == "POST" and "/" not in sub.path and sub.path and not sub.path.startswith("$"):
            require_type(sub.path)
            criteria = sub.if_none_exist
            key = lock_key(sub.path, criteria, self.uow.search_params()) if criteria else None
            match = (single_match(self.uow, sub.path, criteria, deciding_write=True)
                     if criteria and key and key not in self.creating else None)
            if match is not None:
                self.existing[index] = match
                target = match.reference
            elif key in self.creating:
                # R4 ccreate: the condition already names an entry of this bundle: that one resource
                first = self.creating[key]
                self.same_as[index] = first
                target = f"{sub.path}/{self.preassigned[first]}"
            else:
                if key:
                    self.creating[key] = index
                new_id = self.uow.new_id()
                self.preassigned[index] = new_id
                target = f"{sub.path}/{new_id}"
            if full_url:
                self.targets[full_url] = target
        elif sub.method == "PUT" and (full_url or _conditional(sub)):
            target = self._put_target(index, sub)
            if full_url:
                self.targets[full_url] = target

    def _put_target(self, index: int, sub: FhirRequest) -> str:
        if _conditional(sub):  # conditional update: matched now, before any entry is written, and only once
            match = single_match(self.uow, sub.path, urlencode(sub.query), deciding_write=True)
            self.matched[index] = match
            if match is not None:
                return match.reference
            body_id = sub.body.get("id") if isinstance(sub.body, dict) else None
            new_id = body_id or self.uow.new_id()
            if isinstance(sub.body, dict):
                sub.body = {**sub.body, "id": new_id}
            return f"{sub.path}/{new_id}"
        return sub.path

    def rewrite(self, resource: dict) -> None:
        rewrite_references(resource, self._resolve)
        for contained in resource.get("contained", []) if isinstance(resource.get("contained"), list) else []:
            if isinstance(contained, dict):
                rewrite_references(contained, self._resolve)

    def _resolve(self, reference: str) -> str | None:
        if reference in self.targets:
            return self.targets[reference]
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return None  # not in this bundle: left as is (validation may complain)
        if "?" in reference and not reference.startswith("#"):
            res_type, criteria = reference.split("?", 1)
            if parse_reference(f"{res_type}/x") is None:
                return None
            matches = find_matches(self.uow, res_type, criteria)
            if len(matches) != 1:
                raise PreconditionFailed(
                    f"The conditional reference '{reference}' matches {len(matches) or 'no'} resources; "
                    "it must match exactly one")
            return matches[0].reference
        parsed = parse_reference(reference)
        if parsed and parsed.base and parsed.base.rstrip("/") == self.base_url.rstrip("/"):
            return f"{parsed.res_type}/{parsed.res_id}"
        return None

    def check_unique(self, subs: list[FhirRequest]) -> None:
        seen: dict[str, int] = {}
        for index, sub in enumerate(subs):
            # reads and creates (fresh ids) cannot collide by URL; a conditional update is about
            # the resource it matched, or about its criteria when it matched none
            if sub.method in ("GET", "HEAD", "POST") or (sub.query and index not in self.matched):
                continue
            match = self.matched.get(index)
            target = sub.path if index not in self.matched else (
                match.reference if match is not None else f"{sub.path}?{urlencode(sorted(sub.query))}")
            if target in seen:
                raise BadRequest(f"Bundle.entry[{index}] and Bundle.entry[{seen[target]}] both write {target}; "
                                 "a transaction may touch a resource only once", code="invalid")
            seen[target] = index

    def execute(self, index: int, sub: FhirRequest, dispatch: Dispatch) -> dict:
        if index in self.existing:
            return response_entry(access.checked_write(self.uow, sub, sub.path, lambda: stored_response(
                self.existing[index], 200, self.base_url, location=True)), sub)
        if index in self.same_as:
            created = self.uow.get(sub.path, self.preassigned[self.same_as[index]])
            if created is None:  # pragma: no cover - the earlier POST runs first (ORDER is stable)
                raise BadRequest(f"Bundle.entry[{index}]: the entry it resolves to was not created")
            return response_entry(stored_response(created, 200, self.base_url, location=True), sub)
        if index in self.matched:
            require_type(sub.path)
            response = access.checked_write(self.uow, sub, sub.path, lambda: update_interaction.update_matched(
                self.uow, sub, sub.path, urlencode(sub.query), self.matched[index]))
            return response_entry(response, sub)
        if index in self.preassigned:
            sub.if_none_exist = None
            response = access.checked_write(self.uow, sub, sub.path, lambda: create_interaction.create(
                self.uow, sub, sub.path, self.preassigned[index]))
            return response_entry(response, sub)
        return response_entry(dispatch(self.uow, sub), sub)
