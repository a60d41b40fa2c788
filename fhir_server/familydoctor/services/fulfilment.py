"""``Contract/[id]/$fulfilment`` (SPEC §4): for the contract year that contains ``asOf``, each
service item the packages entitle, how many were due and how many were delivered.

Due: the package's yearly frequency (PlanDefinition.action timing) times the residents the
package covers (``term.offer.party``, else every subject).  Delivered: Encounters of those
residents in the contract year up to ``asOf``, not cancelled or entered in error, that were
recorded under this contract (``jiayi-contract``, e.g. two-card records) or are follow-ups
recorded without a contract (``type`` from follow-up-method), one per ``jiayi-service-item``.
Contract years run from ``applies.start``: a 3-year contract has three, each entitled anew
(paid packages follow the natural year and are signed for one year).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.services.lifecycle import family_doctor_contract
from fhir_server.repository.base import UnitOfWork

NOT_DELIVERED = ("cancelled", "entered-in-error", "planned")


@dataclass(frozen=True, slots=True)
class Fulfilment:
    first: dt.date  # the contract year
    last: dt.date
    due: Counter  # service item code → times due
    delivered: Counter  # service item code → times delivered


def fulfilment(uow: UnitOfWork, res_id: str, as_of: dt.date | None = None) -> Fulfilment:
    """Due and delivered of Contract/[res_id] in its contract year containing ``as_of`` (default today)."""
    as_of = as_of or r.today(uow.now())
    contract = family_doctor_contract(uow, res_id, for_update=False).content or {}
    first, last = contract_year(contract, as_of)
    due: Counter = Counter()
    people: set[str] = set()
    for term in contract.get("term") or []:
        package = queries.current(uow, el.local_ref(term.get("topicReference")))
        if package is None:
            continue
        covered = _covered(term) or r.subjects(contract)
        people.update(covered)
        for code, per_year in r.package_items(package).items():
            due[code] += per_year * len(covered)
    delivered = _delivered(uow, f"Contract/{contract.get('id')}", sorted(people), first, min(last, as_of))
    return Fulfilment(first, last, due, delivered)


def contract_year(contract: dict, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The contract year containing ``as_of`` (the first or last one when outside the term)."""
    start, end = r.applies(contract)
    start = start or as_of
    year = 0
    while r.add_years(start, year + 1) <= as_of and (end is None or r.add_years(start, year + 1) <= end):
        year += 1
    first = r.add_years(start, year)
    last = r.add_years(start, year + 1) - dt.timedelta(days=1)
    return first, min(last, end) if end else last


def _covered(term: dict) -> list[str]:
    offer = term.get("offer")
    if not isinstance(offer, dict):
        return []
    refs = {el.local_ref(x) for party in offer.get("party") or [] for x in party.get("reference") or []}
    return sorted(ref for ref in refs if ref and ref.startswith("Patient/"))


def _delivered(uow: UnitOfWork, contract_ref: str, people: list[str], first: dt.date, last: dt.date) -> Counter:
    counted: Counter = Counter()
    if last < first or not people:
        return counted
    in_period = (("date", f"ge{first}"), ("date", f"le{last}"))
    for encounter in queries.find_any(uow, "Encounter", "patient", people, in_period):
        day = el.day_of((encounter.get("period") or {}).get("start"))
        if encounter.get("status") in NOT_DELIVERED or day is None or not first <= day <= last:
            continue
        under = el.local_ref(el.ext_value(encounter, jn.CONTRACT_EXT, "Reference"))
        follow_up = any(el.codes_of(t, jn.FOLLOW_UP_METHOD) for t in encounter.get("type") or [])
        if under == contract_ref or (under is None and follow_up):
            for e in el.extensions(encounter, jn.SERVICE_ITEM_EXT):
                for code in el.codes_of(e.get("valueCodeableConcept"), jn.SERVICE_ITEM):
                    counted[code] += 1
    return counted
