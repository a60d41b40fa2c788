"""The assessment indicators of SPEC §1 (考核指标), one function each.

An indicator turns a :class:`DistrictSnapshot` and a reporting period into *members*: the
things it counts (residents, contracts, referrals, responses, teams), each with its weight in
the denominator and the numerator and its strata (institution, team, key population).  The
report module aggregates members into a MeasureReport, so adding an indicator is one function
here and one row in :mod:`.catalog`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fhir_server.core import elements as el
from fhir_server.familydoctor import names as n

from .snapshot import NONE, ContractView, DistrictSnapshot, Period

CHRONIC = ("hypertension", "diabetes-t2")
CHRONIC_FOLLOW_UPS_PER_YEAR = 4  # national specification: at least four a year (SPEC §1)
SATISFACTION = "https://jiayi.dev/fhir/CodeSystem/satisfaction"
SATISFIED = {"1", "2"}  # 满意, 基本满意 (the IG's satisfaction code system); 3 = 不满意
SATISFACTION_QUESTIONNAIRE = "https://jiayi.dev/fhir/Questionnaire/jiayi-satisfaction"
LONG_TERM_PRESCRIPTION = "https://jiayi.dev/fhir/StructureDefinition/jiayi-long-term-prescription"
FOLLOW_UP_ITEMS = {"hypertension-follow-up", "diabetes-follow-up", "severe-mental-follow-up", "tb-follow-up"}


@dataclass(slots=True)
class Member:
    """One counted thing: ``subject`` is the reference reported in subject lists."""

    subject: str
    patient: str | None
    denominator: int = 1
    numerator: int = 0
    strata: dict[str, list[str]] = field(default_factory=dict)
    weight: int = 1  # the members this one stands for (a group counted in SQL, :mod:`.aggregate`)


Indicator = Callable[[DistrictSnapshot, Period], Iterator[Member]]


def _strata(snap: DistrictSnapshot, patient: str | None, contract: ContractView | None) -> dict[str, list[str]]:
    institution = (contract.institution if contract else None) or (snap.institution_of(patient) if patient else None)
    return {"institution": [institution or NONE], "team": [(contract.team if contract else None) or NONE],
            "key-population": (snap.key_populations(patient) if patient else []) or [NONE]}


def _active_patients(snap: DistrictSnapshot) -> Iterator[str]:
    return snap.active_patients()


def coverage(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """签约覆盖率: residents with a contract in force at the end of the period / residents."""
    for patient in _active_patients(snap):
        contract = snap.contract_in_force(patient, period.end)
        yield Member(patient, patient, 1, int(contract is not None), _strata(snap, patient, contract))


def key_population_coverage(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """重点人群签约率: the same, over residents of at least one key population."""
    for member in coverage(snap, period):
        if member.strata["key-population"] != [NONE]:
            yield member


def renewal_rate(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """续签率: contracts whose term ended in the period (not terminated early) that have a successor."""
    for contract, renewed in snap.renewals(period):
        patient = contract.subjects[0] if contract.subjects else None
        yield Member(contract.ref, patient, 1, int(renewed), _strata(snap, patient, contract))


def fulfilment_rate(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """履约率: services delivered (at most what was due) / services due, over contracts in force
    at the end of the period; an item due n times a year is due ceil(n × years of the period)."""
    delivered = snap.services(period)
    for contract in snap.contracts_in_force(period.end):
        due = delivered_total = 0
        items: dict[str, int] = {}
        for package in contract.packages:
            for code, per_year in snap.package_items(package).items():
                items[code] = max(items.get(code, 0), per_year)
        for code, per_year in items.items():
            item_due = math.ceil(per_year * min(1.0, period.years)) * max(1, len(contract.subjects))
            due += item_due
            delivered_total += min(item_due, delivered.get((contract.ref, code), 0))
        if due:
            patient = contract.subjects[0] if contract.subjects else None
            yield Member(contract.ref, patient, due, delivered_total, _strata(snap, patient, contract))


def follow_up_rate(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """随访率: signed residents with at least one follow-up or contracted service in the period."""
    seen = snap.follow_ups(period)
    for patient in _active_patients(snap):
        contract = snap.contract_in_force(patient, period.end)
        if contract is not None:
            yield Member(patient, patient, 1, int(seen.get(patient, 0) >= 1), _strata(snap, patient, contract))


def chronic_follow_up_rate(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """规范管理率: signed hypertension / type-2 diabetes residents with at least four follow-ups a
    year (pro rata for shorter periods)."""
    seen = snap.follow_ups(period)
    needed = math.ceil(CHRONIC_FOLLOW_UPS_PER_YEAR * min(1.0, period.years))
    for patient in _active_patients(snap):
        contract = snap.contract_in_force(patient, period.end)
        if contract is not None and any(k in CHRONIC for k in snap.key_populations(patient)):
            yield Member(patient, patient, 1, int(seen.get(patient, 0) >= needed), _strata(snap, patient, contract))


def _direction(referral: dict) -> str | None:
    for e in el.extensions(referral, n.DIRECTION):
        return (e.get("valueCoding") or {}).get("code")
    return None


def _referral_contract(snap: DistrictSnapshot, referral: dict) -> ContractView | None:
    patient = el.reference_text(referral.get("subject"))
    when = el.day_of(referral.get("authoredOn"))
    return snap.contract_in_force(patient, when) if patient and when else None


def _referrals(snap: DistrictSnapshot, period: Period, direction: str) -> Iterator[Member]:
    for referral in snap.referrals:
        if referral.get("status") in ("entered-in-error", "draft"):
            continue
        if _direction(referral) == direction and period.contains(el.day_of(referral.get("authoredOn"))):
            patient = el.reference_text(referral.get("subject"))
            yield Member(f"ServiceRequest/{referral['id']}", patient, 1, 1,
                         _strata(snap, patient, _referral_contract(snap, referral)))


def upward_referrals(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """上转人次: upward referrals made in the period."""
    return _referrals(snap, period, "upward")


def downward_referrals(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """下转人次: downward referrals made in the period."""
    return _referrals(snap, period, "downward")


def return_rate(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """回转率: upward referrals of the period answered by a downward referral (``basedOn`` them)."""
    answered = {el.reference_text(b) for sr in snap.referrals if _direction(sr) == "downward"
                and sr.get("status") not in ("entered-in-error", "draft") for b in sr.get("basedOn") or ()}
    for member in _referrals(snap, period, "upward"):
        member.numerator = int(member.subject in answered)
        yield member


def satisfaction(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """满意度: completed satisfaction surveys of the period whose overall answer is 满意 or 基本满意."""
    for response in snap.responses:
        if response.get("status") != "completed" or not period.contains(el.day_of(response.get("authored"))):
            continue
        if not str(response.get("questionnaire", "")).startswith(SATISFACTION_QUESTIONNAIRE):
            continue
        patient = el.reference_text(response.get("subject"))
        answers = [a for item in response.get("item") or () if item.get("linkId") == "overall"
                   for a in item.get("answer") or ()]
        ok = any((a.get("valueCoding") or {}).get("system") == SATISFACTION
                 and (a.get("valueCoding") or {}).get("code") in SATISFIED for a in answers)
        contract = snap.contract_in_force(patient, period.end) if patient else None
        yield Member(f"QuestionnaireResponse/{response['id']}", patient, 1, int(ok),
                     _strata(snap, patient, contract))


def paid_contract_share(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """有偿签约占比: contracts in force at the end of the period with a paid package."""
    for contract in snap.contracts_in_force(period.end):
        paid = any((snap.package_tier(p) or "basic") != "basic" for p in contract.packages)
        patient = contract.subjects[0] if contract.subjects else None
        yield Member(contract.ref, patient, 1, int(paid), _strata(snap, patient, contract))


def _is_long_term(prescription: dict) -> bool:
    if LONG_TERM_PRESCRIPTION in ((prescription.get("meta") or {}).get("profile") or ()):
        return True
    duration = ((prescription.get("dispenseRequest") or {}).get("expectedSupplyDuration")) or {}
    days = duration.get("value")
    unit = duration.get("code") or duration.get("unit")
    if isinstance(days, (int, float)) and unit in ("d", "day", "days", "天"):
        return 28 <= days <= 84
    if isinstance(days, (int, float)) and unit in ("wk", "week", "weeks", "周"):
        return 4 <= days <= 12
    return False


def long_term_prescriptions(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """长期处方: signed hypertension / diabetes residents with a long-term prescription in the period."""
    holders = {el.reference_text(m.get("subject")) for m in snap.prescriptions if _is_long_term(m)
               and m.get("status") in ("active", "completed") and period.contains(el.day_of(m.get("authoredOn")))}
    for patient in _active_patients(snap):
        contract = snap.contract_in_force(patient, period.end)
        if contract is not None and any(k in CHRONIC for k in snap.key_populations(patient)):
            yield Member(patient, patient, 1, int(patient in holders), _strata(snap, patient, contract))


def team_load(snap: DistrictSnapshot, period: Period) -> Iterator[Member]:
    """团队服务负荷: households under contract in force (a contract without a household Group is
    one household) / the team's capacity in households."""
    households: dict[str, set[str]] = {}
    for contract in snap.contracts_in_force(period.end):
        if contract.team:
            households.setdefault(contract.team, set()).add(contract.household or contract.ref)
    for team in snap.teams:
        strata = {"institution": [snap.team_institution(team) or NONE], "team": [team], "key-population": [NONE]}
        yield Member(team, None, snap.team_capacity(team), len(households.get(team, ())), strata)


INDICATORS: dict[str, Indicator] = {
    "coverage": coverage,
    "key-population-coverage": key_population_coverage,
    "renewal-rate": renewal_rate,
    "fulfilment-rate": fulfilment_rate,
    "follow-up-rate": follow_up_rate,
    "chronic-follow-up-rate": chronic_follow_up_rate,
    "upward-referrals": upward_referrals,
    "downward-referrals": downward_referrals,
    "return-rate": return_rate,
    "satisfaction": satisfaction,
    "paid-contract-share": paid_contract_share,
    "long-term-prescriptions": long_term_prescriptions,
    "team-load": team_load,
}
