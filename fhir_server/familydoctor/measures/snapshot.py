"""What a measure evaluation reads: the district's family-doctor data at one moment, indexed.

One :class:`DistrictSnapshot` is built per evaluation from ``uow.scan`` (every current resource
of the types the indicators need), so all indicators of a report see the same data and no
search paging limit cuts a population short.  Everything here is plain reading of the Appendix A
names; the indicators decide what counts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.familydoctor import names as n

FAMILY_DOCTOR_CONTRACT = (jn.CONTRACT_TYPE, "family-doctor")
PACKAGE_TIER = jn.SD + "jiayi-package-tier"
NONE = "none"  # the stratum of members without a value (no team, no key population)


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.date
    end: dt.date

    def contains(self, when: dt.date | None) -> bool:
        return when is not None and self.start <= when <= self.end

    @property
    def years(self) -> float:
        return max(1, (self.end - self.start).days + 1) / 365.25


@dataclass(slots=True)
class ContractView:
    """A family-doctor contract as the indicators see it."""

    ref: str
    status: str
    start: dt.date | None
    end: dt.date | None
    subjects: list[str]
    team: str | None
    institution: str | None
    household: str | None
    packages: list[str]
    renews: str | None

    def in_force_on(self, when: dt.date) -> bool:
        return (self.status == "executed" and self.start is not None and self.start <= when
                and (self.end is None or when <= self.end))

    def overlaps(self, period: Period) -> bool:
        return (self.status in ("executed", "terminated") and self.start is not None
                and self.start <= period.end and (self.end is None or self.end >= period.start))


class DistrictSnapshot:
    """The district as the indicators read it.  Each part is read on first use (``uow.scan`` of
    its types), so an indicator loads only what it asks about: coverage reads Patients and
    Contracts, never Encounters."""

    LOADERS = {"patients": "_load_patient", "contracts": "_load_contract", "successors": "_load_contract",
               "teams": "_load_team", "packages": "_load_package", "encounters": "_load_encounter",
               "referrals": "_load_referral", "tasks": "_load_task", "responses": "_load_response",
               "prescriptions": "_load_prescription"}

    def __init__(self, uow=None, **parts) -> None:
        self._uow = uow
        self._parts: dict[str, object] = dict(parts)
        self._in_force_on: dict[dt.date, dict[str, ContractView]] = {}
        self._package_items: dict[str, dict[str, int]] = {}  # a few packages in a district

    @classmethod
    def load(cls, uow) -> DistrictSnapshot:
        return cls(uow)

    def bind(self, uow) -> None:
        """Read the parts not loaded yet through ``uow`` (a snapshot shared between requests,
        :mod:`.shared`); None between them."""
        self._uow = uow

    def _part(self, name: str):
        if name not in self._parts:
            getattr(self, self.LOADERS[name])()
        return self._parts[name]

    patients = property(lambda self: self._part("patients"))
    contracts = property(lambda self: self._part("contracts"))
    successors = property(lambda self: self._part("successors"))
    teams = property(lambda self: self._part("teams"))
    packages = property(lambda self: self._part("packages"))
    encounters = property(lambda self: self._part("encounters"))
    referrals = property(lambda self: self._part("referrals"))
    tasks = property(lambda self: self._part("tasks"))
    responses = property(lambda self: self._part("responses"))
    prescriptions = property(lambda self: self._part("prescriptions"))

    def _load_patient(self) -> None:
        self._parts["patients"] = {f"Patient/{p['id']}": p for p in self._uow.scan("Patient")}

    def _load_team(self) -> None:
        self._parts["teams"] = {f"CareTeam/{t['id']}": t for t in self._uow.scan("CareTeam")}

    def _load_package(self) -> None:
        self._parts["packages"] = {f"PlanDefinition/{p['id']}": p for p in self._uow.scan("PlanDefinition")}

    def _load_contract(self) -> None:
        contracts: list[ContractView] = []
        successors: dict[str, list[ContractView]] = defaultdict(list)
        for contract in self._uow.scan("Contract"):
            if FAMILY_DOCTOR_CONTRACT[1] in el.codes_of(contract.get("type"), FAMILY_DOCTOR_CONTRACT[0]):
                view = _contract_view(contract)
                contracts.append(view)
                if view.renews:
                    successors[view.renews].append(view)
        self._parts["contracts"], self._parts["successors"] = contracts, successors

    def _load_encounter(self) -> None:
        self._parts["encounters"] = list(self._uow.scan("Encounter"))

    def _load_referral(self) -> None:
        self._parts["referrals"] = [sr for sr in self._uow.scan("ServiceRequest") if el.extensions(sr, n.DIRECTION)]

    def _load_task(self) -> None:
        self._parts["tasks"] = list(self._uow.scan("Task"))

    def _load_response(self) -> None:
        self._parts["responses"] = list(self._uow.scan("QuestionnaireResponse"))

    def _load_prescription(self) -> None:
        self._parts["prescriptions"] = list(self._uow.scan("MedicationRequest"))

    # --- questions the indicators ask -------------------------------------------------
    def contract_in_force(self, patient: str, when: dt.date) -> ContractView | None:
        return self._in_force(when).get(patient)

    def contracts_in_force(self, when: dt.date) -> Iterator[ContractView]:
        """The family-doctor contracts in force on ``when``, in id order."""
        return (c for c in self.contracts if c.in_force_on(when))

    def renewals(self, period: Period) -> Iterator[tuple[ContractView, bool]]:
        """Executed contracts whose term ends in ``period``, each with whether a successor (executed
        or offered) renews it, in id order."""
        for contract in self.contracts:
            if contract.status == "executed" and period.contains(contract.end):
                yield contract, any(s.status in ("executed", "offered")
                                    for s in self.successors.get(contract.ref, ()))

    def follow_ups(self, period: Period) -> dict[str, int]:
        """Patient → finished follow-up or contracted-service encounters that started in ``period``."""
        return follow_up_counts(self.encounters, period)

    def services(self, period: Period) -> dict[tuple[str, str], int]:
        """(contract reference, service item) → finished encounters of the item in ``period``."""
        return service_counts(self.encounters, period)

    def _in_force(self, when: dt.date) -> dict[str, ContractView]:
        if when not in self._in_force_on:
            found: dict[str, ContractView] = {}
            for contract in self.contracts:
                if contract.in_force_on(when):
                    for subject in contract.subjects:
                        found.setdefault(subject, contract)
            self._in_force_on[when] = found
        return self._in_force_on[when]

    def active_patients(self) -> Iterator[str]:
        """Residents counted by the coverage-like indicators: active (or unstated) and not deceased."""
        return (ref for ref, p in self.patients.items() if p.get("active", True) and not p.get("deceasedBoolean"))

    def key_populations(self, patient: str) -> list[str]:
        resource = self.patients.get(patient) or {}
        found: list[str] = []
        for e in el.extensions(resource, n.KEY_POPULATION):
            found += el.codes_of(e.get("valueCodeableConcept"), n.KEY_POPULATION_CS)
        return found

    def institution_of(self, patient: str) -> str | None:
        return el.reference_text((self.patients.get(patient) or {}).get("managingOrganization"))

    def team_capacity(self, team: str) -> int:
        for e in el.extensions(self.teams.get(team), jn.TEAM_CAPACITY):
            if isinstance(e.get("valuePositiveInt"), int):
                return e["valuePositiveInt"]
        return 1500

    def team_institution(self, team: str) -> str | None:
        managing = (self.teams.get(team) or {}).get("managingOrganization") or []
        return el.reference_text(managing[0]) if managing else None

    def package_tier(self, package: str) -> str | None:
        for e in el.extensions(self.packages.get(package), PACKAGE_TIER):
            return (e.get("valueCoding") or {}).get("code")
        return None

    def package_items(self, package: str) -> dict[str, int]:
        """Service item code → times per year the package entitles (read once per package: the
        fulfilment rate asks for every contract's packages)."""
        items = self._package_items.get(package)
        if items is None:
            items = self._package_items[package] = self._items_of(package)
        return items

    def _items_of(self, package: str) -> dict[str, int]:
        items: dict[str, int] = {}
        for action in (self.packages.get(package) or {}).get("action") or ():
            repeat = ((action.get("timingTiming") or {}).get("repeat")) or {}
            per_year = _per_year(repeat)
            for concept in action.get("code") or ():
                for code in el.codes_of(concept, jn.SERVICE_ITEM):
                    items[code] = max(items.get(code, 0), per_year)
        return items


def _finished_in(encounter: dict, period: Period) -> bool:
    return encounter.get("status") == "finished" and period.contains(
        el.day_of((encounter.get("period") or {}).get("start")))


def follow_up_counts(encounters: Iterable[dict], period: Period, counts: dict[str, int] | None = None
                     ) -> dict[str, int]:
    """Patient → finished follow-up (a follow-up method type) or contracted-service encounters in
    ``period``, added to ``counts``."""
    counts = {} if counts is None else counts
    for encounter in encounters:
        if not _finished_in(encounter, period):
            continue
        is_follow_up = any(el.codes_of(t, jn.FOLLOW_UP_METHOD) for t in encounter.get("type") or ()) or \
            bool(el.extensions(encounter, jn.SERVICE_ITEM_EXT))
        patient = el.reference_text(encounter.get("subject"))
        if is_follow_up and patient:
            counts[patient] = counts.get(patient, 0) + 1
    return counts


def service_counts(encounters: Iterable[dict], period: Period, counts: dict[tuple[str, str], int] | None = None
                   ) -> dict[tuple[str, str], int]:
    """(contract reference, service item) → finished encounters in ``period``, added to ``counts``."""
    counts = {} if counts is None else counts
    for encounter in encounters:
        if not _finished_in(encounter, period):
            continue
        contract = next((el.reference_text(e.get("valueReference"))
                         for e in el.extensions(encounter, jn.CONTRACT_EXT)), None)
        if not contract:
            continue
        for e in el.extensions(encounter, jn.SERVICE_ITEM_EXT):
            for code in el.codes_of(e.get("valueCodeableConcept"), jn.SERVICE_ITEM):
                counts[(contract, code)] = counts.get((contract, code), 0) + 1
    return counts


def _per_year(repeat: dict) -> int:
    frequency = repeat.get("frequency", 1)
    period = repeat.get("period", 1) or 1
    unit = repeat.get("periodUnit", "a")
    per_unit = {"a": 1, "mo": 12, "wk": 52, "d": 365}.get(unit, 1)
    return max(1, round(frequency * per_unit / period))


def _contract_view(contract: dict) -> ContractView:
    applies = contract.get("applies") or {}
    team = next((el.reference_text(e.get("valueReference"))
                 for e in el.extensions(contract, jn.CONTRACT_CARE_TEAM)), None)
    household = next((el.reference_text(e.get("valueReference"))
                      for e in el.extensions(contract, jn.CONTRACT_HOUSEHOLD)), None)
    renews = next((el.reference_text(e.get("valueReference")) for e in el.extensions(contract, jn.RENEWS)), None)
    authority = contract.get("authority") or []
    return ContractView(
        ref=f"Contract/{contract['id']}", status=contract.get("status", ""),
        start=el.day_of(applies.get("start")), end=el.day_of(applies.get("end")),
        subjects=[r for r in (el.reference_text(s) for s in contract.get("subject") or ()) if r],
        team=team, institution=el.reference_text(authority[0]) if authority else None, household=household,
        packages=[r for r in (el.reference_text(t.get("topicReference")) for t in contract.get("term") or ()) if r],
        renews=renews)
