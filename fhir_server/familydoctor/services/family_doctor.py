"""``Patient/[id]/$family-doctor`` (SPEC §4): the question every hospital system asks first —
the resident's contract in force today, its team, the team's lead doctor and the "1+1+1"
hospitals.  Out: ``contract``, ``careTeam``, ``doctor``, ``hospital`` (0..2) References, and
each of those resources as a ``resource`` parameter.  404 when no contract is in force."""

from __future__ import annotations

import datetime as dt

from fhir_server.core.errors import NotFound
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.repository.base import UnitOfWork


def contract_in_force(uow: UnitOfWork, patient: str, day: dt.date) -> dict | None:
    """The resident's executed family-doctor contract whose term contains ``day``."""
    for contract in queries.find(uow, "Contract", [("patient", patient), ("status", "executed")]):
        if r.is_family_doctor_contract(contract) and r.in_force_on(contract, day):
            return contract
    return None


def family_doctor(uow: UnitOfWork, patient_id: str, day: dt.date | None = None) -> list[tuple[str, str, dict | None]]:
    """(name, reference, resource) of the contract in force on ``day`` (default today), its team,
    the team's lead doctor and the first two "1+1+1" hospitals; 404 when none is in force."""
    day = day or r.today(uow.now())
    queries.existing(uow, "Patient", patient_id)
    patient = f"Patient/{patient_id}"
    contract = contract_in_force(uow, patient, day)
    if contract is None:
        raise NotFound(f"{patient} has no family-doctor contract in force on {day}")
    team_ref = r.care_team(contract)
    team = queries.current(uow, team_ref)
    doctor_ref = r.lead_doctor(team) if team else None
    named: list[tuple[str, str | None, dict | None]] = [
        ("contract", f"Contract/{contract['id']}", contract), ("careTeam", team_ref, team),
        ("doctor", doctor_ref, queries.current(uow, doctor_ref))]
    named += [("hospital", org, queries.current(uow, org)) for _level, org in r.combination_hospitals(contract)[:2]]
    return [(name, ref, resource) for name, ref, resource in named if ref]
