"""A contract's life after signing (SPEC §4, Appendix A): ``$terminate`` (解约), ``$renew``
(the successor for the next term) and ``$renew-due`` (自动续约 of every auto-renew contract
ending in a window; the nightly job ``jiayi contracts renew-due`` runs the same code).

A renewal is a new executed Contract starting the day after its predecessor ends, linked
by ``jiayi-renews``; the predecessor is left as it is and simply ends at its term.  It is
written through ``uow.write_derived`` (validated, tagged), so every contract rule applies to it.
Renewing locks the predecessor first, so two renewals of one contract (a retried request,
two nightly jobs) make one successor.
"""

from __future__ import annotations

import copy
import datetime as dt

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core.errors import FHIRError
from fhir_server.core.instants import fhir_instant
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.violations import refuse
from fhir_server.repository.base import StoredResource, UnitOfWork

REQUESTED_BY = jn.SD + "jiayi-termination-requested-by"
LIVE_SUCCESSOR = ("offered", "executed")


def family_doctor_contract(uow: UnitOfWork, res_id: str, *, for_update: bool = True) -> StoredResource:
    stored = queries.existing(uow, "Contract", res_id, for_update=for_update)
    if not r.is_family_doctor_contract(stored.content):
        refuse("jiayi-contract-type", f"Contract/{res_id} is not a family-doctor contract "
               "(Contract.type contract-type#family-doctor)", "Contract.type")
    return stored


# --- $terminate --------------------------------------------------------------------------------

def terminate(uow: UnitOfWork, res_id: str, reason: str, day: dt.date | None = None,
              requested_by: dict | None = None) -> StoredResource:
    """Contract/[res_id] terminated on ``day`` (default today) for ``reason``."""
    if reason not in jn.TERMINATION_REASONS:
        refuse("jiayi-termination-reason", f"reason '{reason}' is not a termination-reason code "
               f"({', '.join(jn.TERMINATION_REASONS)})", "reason")
    day = day or r.today(uow.now())
    stored = family_doctor_contract(uow, res_id)
    contract = copy.deepcopy(stored.content or {})
    if contract.get("status") != "executed":
        refuse("jiayi-contract-terminate", f"only a contract in force (executed) can be terminated; "
               f"Contract/{res_id} is {contract.get('status')}", "Contract.status", conflict=True)
    start, end = r.applies(contract)
    if (start and day < start) or (end and day > end):
        refuse("jiayi-contract-terminate", f"the termination date {day} is outside the term {start}..{end}",
               "date")
    contract["status"] = "terminated"
    contract["expirationType"] = {"coding": [{"system": jn.TERMINATION_REASON, "code": reason}], "text": reason}
    contract["applies"] = {**contract.get("applies", {}), "end": day.isoformat()}
    if requested_by:
        contract["extension"] = [e for e in contract.get("extension") or [] if e.get("url") != REQUESTED_BY]
        contract["extension"].append({"url": REQUESTED_BY, "valueReference": requested_by})
    return uow.write_derived(contract, because="terminate", previous=stored, refuse=True)


# --- $renew ------------------------------------------------------------------------------------

def renew(uow: UnitOfWork, res_id: str, years: int | None = None, packages: list[str] | None = None,
          teams: list[str] | None = None) -> StoredResource:
    """The successor of Contract/[res_id] for the next term."""
    if teams and len(teams) > 1:
        refuse("jiayi-contract-renew", "at most one careTeam", "careTeam")
    stored = family_doctor_contract(uow, res_id)
    return renew_contract(uow, stored, years, packages, teams[0] if teams else None)


def renew_contract(uow: UnitOfWork, stored: StoredResource, years: int | None = None,
                   packages: list[str] | None = None, team: str | None = None) -> StoredResource:
    old = stored.content or {}
    uow.lock(f"jiayi-renew:Contract/{stored.res_id}")
    if old.get("status") != "executed":
        refuse("jiayi-contract-renew", f"only an executed contract is renewed; Contract/{stored.res_id} is "
               f"{old.get('status')}", "Contract.status", conflict=True)
    successor = next(iter(successors(uow, stored.res_id)), None)
    if successor is not None:
        refuse("jiayi-contract-renew", f"Contract/{stored.res_id} was renewed already by "
               f"Contract/{successor['id']}", "Contract", conflict=True)
    start, end = r.applies(old)
    if start is None or end is None:
        refuse("jiayi-contract-term", "the contract to renew has no complete term", "Contract.applies")
    years = years or r.term_years(start, end) or 1
    new_start = end + dt.timedelta(days=1)
    new = successor_contract(uow, old, stored.res_id, new_start, r.add_years(new_start, years) - dt.timedelta(days=1))
    if team:
        _set_extension(new, jn.CONTRACT_CARE_TEAM, {"valueReference": {"reference": team}})
    if packages:
        new["term"] = [_term_for(uow, old, p) for p in packages]
    return uow.write_derived(new, because="renew", refuse=True)


def successors(uow: UnitOfWork, res_id: str) -> list[dict]:
    return [c for c in queries.find(uow, "Contract", [("renews", f"Contract/{res_id}")])
            if c.get("status") in LIVE_SUCCESSOR]


def successor_contract(uow: UnitOfWork, old: dict, old_id: str, start: dt.date, end: dt.date) -> dict:
    new = {k: copy.deepcopy(v) for k, v in old.items() if k not in ("id", "meta", "text", "expirationType")}
    new["status"] = "executed"
    new["issued"] = fhir_instant(uow.now())
    new["applies"] = {"start": start.isoformat(), "end": end.isoformat()}
    _set_extension(new, jn.RENEWS, {"valueReference": {"reference": f"Contract/{old_id}"}})
    for identifier in new.get("identifier") or []:
        if identifier.get("system") == jn.CONTRACT_NUMBER and isinstance(identifier.get("value"), str):
            identifier["value"] = identifier["value"].split("-R")[0] + f"-R{start.year}"
    return new


def _set_extension(resource: dict, url: str, value: dict) -> None:
    resource["extension"] = [e for e in resource.get("extension") or [] if e.get("url") != url]
    resource["extension"].append({"url": url, **value})


def _term_for(uow: UnitOfWork, old: dict, package_ref: str) -> dict:
    """The old term of that package, or a new one: the annual price times the people covered,
    paid by the resident signer (the split can be corrected by updating the contract)."""
    for term in old.get("term") or []:
        if el.local_ref(term.get("topicReference")) == package_ref:
            return copy.deepcopy(term)
    package = queries.current(uow, package_ref) or {}
    if not package:
        refuse("jiayi-contract-package", f"{package_ref} is not a known service package", "package")
    people = r.subjects(old)
    price = r.annual_price(package) or 0
    payer = next((s.get("party") for s in old.get("signer") or [] if (el.local_ref(s.get("party")) or "")
                  .split("/")[0] in ("Patient", "RelatedPerson")), {"reference": people[0]})
    new: dict = {"topicReference": {"reference": package_ref}, "text": package.get("title"),
                  "offer": {"party": [{"reference": [{"reference": p} for p in people], "role": {"text": "服务对象"}}]}}
    new["asset"] = [{"valuedItem": [{"quantity": {"value": len(people)},
                                      "unitPrice": {"value": price, "currency": "CNY"},
                                      "net": {"value": price * len(people), "currency": "CNY"}, "responsible": payer}]}]
    return new


# --- $renew-due --------------------------------------------------------------------------------

def renew_all_due(uow: UnitOfWork, as_of: dt.date, window: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Renew every executed auto-renew contract ending in [as_of, as_of + window] that has no
    successor yet; a contract a rule refuses to renew is reported, the others still renewed."""
    last = as_of + dt.timedelta(days=window)
    due = [c for c in queries.find(uow, "Contract", [("status", "executed"), ("expiry", f"ge{as_of}"),
                                                     ("expiry", f"le{last}")])
           if r.is_family_doctor_contract(c) and r.auto_renew(c)]
    renewed, skipped = [], []
    for contract in sorted(due, key=lambda c: c["id"]):
        if successors(uow, contract["id"]):
            continue
        stored = uow.get("Contract", contract["id"], for_update=True)
        if stored is None or stored.content is None:
            continue
        try:
            new = renew_contract(uow, stored)
        except FHIRError as error:
            skipped.append((f"Contract/{contract['id']}", error.issues[0].diagnostics))
            continue
        renewed.append(new.reference)
    return renewed, skipped

