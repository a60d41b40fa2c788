"""``Patient/[id]/$family-doctor`` (SPEC §4): the question every hospital system asks first —
the resident's contract in force today, its team, the team's lead doctor and the "1+1+1"
hospitals.  Out: ``contract``, ``careTeam``, ``doctor``, ``hospital`` (0..2) References, and
each of those resources as a ``resource`` parameter.  404 when no contract is in force."""

from __future__ import annotations

import datetime as dt

from fhir_server.core.errors import NotFound
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.params import Params, parameters
from fhir_server.interactions.common import current_or_raise
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import UnitOfWork


def contract_in_force(uow: UnitOfWork, patient: str, day: dt.date) -> dict | None:
    """The resident's executed family-doctor contract whose term contains ``day``."""
    for contract in queries.find(uow, "Contract", [("patient", patient), ("status", "executed")]):
        if r.is_family_doctor_contract(contract) and r.in_force_on(contract, day):
            return contract
    return None


def family_doctor(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    day = Params(request).date("asOf") or r.today(uow.now())
    current_or_raise(uow, "Patient", res_id or "")
    patient = f"Patient/{res_id}"
    contract = contract_in_force(uow, patient, day)
    if contract is None:
        raise NotFound(f"{patient} has no family-doctor contract in force on {day}")
    team_ref = r.care_team(contract)
    team = queries.current(uow, team_ref)
    doctor_ref = r.lead_doctor(team) if team else None
    named = [("contract", f"Contract/{contract['id']}", contract), ("careTeam", team_ref, team),
             ("doctor", doctor_ref, queries.current(uow, doctor_ref))]
    named += [("hospital", org, queries.current(uow, org)) for _level, org in r.combination_hospitals(contract)[:2]]
    refs = [{"name": name, "valueReference": {"reference": ref}} for name, ref, _ in named if ref]
    resources = [{"name": "resource", "resource": res} for _, ref, res in named if ref and res]
    return FhirResponse(200, parameters(*refs, *resources))
