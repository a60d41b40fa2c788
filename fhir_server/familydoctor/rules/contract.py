"""Family-doctor contract rules (SPEC §1, §4), run by the repository inside every write.

Checked for a Contract of type contract-type#family-doctor whose status is ``offered`` or
``executed`` (an application must already be a valid agreement; only an executed one is in
force and counts against a resident or a team):

- jiayi-contract-one-in-force (409): no other executed family-doctor contract whose
  ``applies`` overlaps this one covers any of its subjects (001 三(一)2).
- jiayi-team-capacity (409): the team's executed contracts overlapping this term, this one
  included, do not exceed ``jiayi-team-capacity`` households (default 1,500; 002 二(一)).
  Each contract counts as one household: a household contract is its household, a resident
  who signs alone is served as a household of one.
- jiayi-contract-term (422): ``applies`` runs 1–3 years (000 四(一); 002 二(三)).
- jiayi-contract-care-team / jiayi-team-lead (422): the team exists and has exactly one lead,
  a family doctor (team-role family-doctor or village-doctor; 000 二(一)).
- jiayi-contract-package / jiayi-contract-fee-split (422): every term names a known package;
  its ``asset.valuedItem.net`` (one per payer) add up to the package's ``jiayi-annual-price``
  times the people the term covers (003 厦门, 杭州).
- jiayi-contract-signer (422): the resident signs, or a guardian (a RelatedPerson of a covered
  resident, or a member of a covered resident's household Group), or for a household
  contract its head or a member (002 二(三); 000 四(一)).
- jiayi-contract-household-members (422): a household contract covers exactly the members
  of its household Group.

Team load (maintained state, issue 19): every executed family-doctor contract counts in the
counter row (``jiayi-team-contracts:CareTeam/x``, the month its term ends) of its team, moved
by ``count_team_contracts`` in the writing transaction under the team's lock (create, update,
status change, delete).  The capacity rule reads the sum of the rows from the month the new
term starts: an upper bound of the contracts overlapping it (one that ended earlier that month,
or starts after the term, is in it too).  Only when that bound reaches the capacity does the
rule count the overlapping contracts exactly through the search index, so an expired contract
(its month passed) needs no write to stop counting, and a team with room costs one indexed
read per signing.

Concurrency: an executed contract first locks each covered resident and its team (PostgreSQL
transaction-level advisory locks, in one sorted order so two writers never wait on each
other crosswise; SQLite writers are serialised by BEGIN IMMEDIATE), then reads through the
search index in the same transaction.  Two racing signings of one resident therefore run
one after the other, and the second sees the first.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator

from fhir_server.core import elements as el
from fhir_server.core.jiayi_names import FAMILY_DOCTOR_ROLES
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.violations import Violation, raise_if_any
from fhir_server.repository.base import UnitOfWork, WriteEvent

CHECKED_STATUSES = ("offered", "executed")
MONEY_TOLERANCE = 0.005
TEAM_LOAD = "jiayi-team-contracts:"  # counter scope prefix: a team's executed contracts
OPEN_END = "9999-12"  # the bucket of a term without an end


def check_contract_write(uow: UnitOfWork, event: WriteEvent) -> None:
    """The write hook: cheap for everything but a family-doctor contract being (re)stated."""
    if event.res_type != "Contract" or event.resource is None:
        return
    contract = event.resource
    if contract.get("status") not in CHECKED_STATUSES or not r.is_family_doctor_contract(contract):
        return
    violations = list(intrinsic_violations(uow, contract))
    if not violations and contract.get("status") == "executed":
        lock_for(uow, contract)
        violations += one_in_force(uow, event.res_id, contract)
        violations += capacity(uow, event, contract)
    raise_if_any(violations)


def lock_for(uow: UnitOfWork, contract: dict) -> None:
    keys = [f"jiayi-contract:{s}" for s in r.subjects(contract)]
    team = r.care_team(contract)
    if team:
        keys.append(f"jiayi-team:{team}")
    for key in sorted(keys):
        uow.lock(key)


def intrinsic_violations(uow: UnitOfWork, contract: dict) -> Iterator[Violation]:
    subjects = r.subjects(contract)
    if not subjects:
        yield Violation("jiayi-contract-subject", "a family-doctor contract covers at least one resident "
                        "(Contract.subject referring to Patients)", ("Contract.subject",))
        return
    yield from _term(contract)
    yield from _team(uow, contract)
    yield from _fees(uow, contract, subjects)
    group = yield from _household(uow, contract, subjects)
    yield from _signers(uow, contract, subjects, group)


def _term(contract: dict) -> Iterator[Violation]:
    start, end = r.applies(contract)
    if start is None or end is None:
        yield Violation("jiayi-contract-term", "applies.start and applies.end (full dates) are required",
                        ("Contract.applies",))
        return
    shortest, longest = r.add_years(start, 1) - dt.timedelta(days=1), r.add_years(start, 3)
    if not shortest <= end <= longest:
        yield Violation("jiayi-contract-term", f"the term {start}..{end} must run 1 to 3 years",
                        ("Contract.applies",))


def _team(uow: UnitOfWork, contract: dict) -> Iterator[Violation]:
    reference = r.care_team(contract)
    team = queries.current(uow, reference) if reference and reference.startswith("CareTeam/") else None
    if team is None:
        yield Violation("jiayi-contract-care-team", "the contract names its family-doctor team "
                        "(extension jiayi-contract-care-team, an existing CareTeam)"
                        + (f"; {reference} is not known" if reference else ""), ("Contract.extension",))
        return
    problem = team_lead_problem(team)
    if problem:
        yield Violation("jiayi-team-lead", f"{reference}: {problem}", ("Contract.extension",))


def team_lead_problem(team: dict) -> str | None:
    found = r.leads(team)
    if len(found) != 1:
        return f"a family-doctor team has exactly one lead (jiayi-team-lead), not {len(found)}"
    roles = r.team_roles(found[0][1])
    if not roles & FAMILY_DOCTOR_ROLES:
        return "the team's lead must be a family doctor (team-role family-doctor or village-doctor)"
    return None


def _fees(uow: UnitOfWork, contract: dict, subjects: list[str]) -> Iterator[Violation]:
    terms = [t for t in contract.get("term") or [] if isinstance(t, dict)]
    if not any(el.local_ref(t.get("topicReference")) for t in terms):
        yield Violation("jiayi-contract-package", "the contract names at least one service package "
                        "(term.topicReference to a PlanDefinition)", ("Contract.term",))
    for i, term in enumerate(terms):
        reference = el.local_ref(term.get("topicReference"))
        if reference is None:
            continue
        package = queries.current(uow, reference) if reference.startswith("PlanDefinition/") else None
        where = f"Contract.term[{i}]"
        if package is None:
            yield Violation("jiayi-contract-package", f"{reference} is not a known service package",
                            (f"{where}.topicReference",))
            continue
        price = r.annual_price(package)
        if price is None:
            continue
        covered = _term_people(term) or len(subjects)
        nets = [item.get("net") for asset in term.get("asset") or [] if isinstance(asset, dict)
                for item in asset.get("valuedItem") or [] if isinstance(item, dict)]
        total = sum(float(m.get("value", 0)) for m in nets if isinstance(m, dict))
        if abs(total - price * covered) > MONEY_TOLERANCE:
            yield Violation("jiayi-contract-fee-split",
                            f"the fee split of {reference} adds up to {total:g} but the package costs "
                            f"{price:g} × {covered} covered = {price * covered:g} a year",
                            (f"{where}.asset",))


def _term_people(term: dict) -> int:
    offer = term.get("offer")
    if not isinstance(offer, dict):
        return 0
    return len({ref for party in offer.get("party") or [] if isinstance(party, dict)
                for ref in (el.local_ref(x) for x in party.get("reference") or []) if ref})


def _household(uow: UnitOfWork, contract: dict, subjects: list[str]):
    """Generator returning the household Group (or None) after yielding its violations."""
    reference = r.household(contract)
    if reference is None:
        return None
    group = queries.current(uow, reference) if reference.startswith("Group/") else None
    if group is None:
        yield Violation("jiayi-contract-household-members", f"the household {reference} is not a known Group",
                        ("Contract.extension",))
        return None
    members = set(r.group_members(group))
    missing, strangers = sorted(members - set(subjects)), sorted(set(subjects) - members)
    if missing:
        yield Violation("jiayi-contract-household-members", f"a household contract covers every member of "
                        f"{reference}; missing: {', '.join(missing)}", ("Contract.subject",))
    if strangers:
        yield Violation("jiayi-contract-household-members", f"{', '.join(strangers)} "
                        f"{'is' if len(strangers) == 1 else 'are'} not members of {reference}",
                        ("Contract.subject",))
    return group


def _signers(uow: UnitOfWork, contract: dict, subjects: list[str], group: dict | None) -> Iterator[Violation]:
    residents = [(i, ref) for i, s in enumerate(contract.get("signer") or []) if isinstance(s, dict)
                 for ref in [el.local_ref(s.get("party"))] if ref and ref.split("/")[0] in ("Patient", "RelatedPerson")]
    if not residents:
        yield Violation("jiayi-contract-signer", "the resident, a guardian or the household's representative "
                        "signs (Contract.signer.party a Patient or RelatedPerson)", ("Contract.signer",))
    for i, party in residents:
        if not _valid_signer(uow, party, subjects, group):
            kind = "the household's head or a member" if group else "a covered resident or their guardian"
            yield Violation("jiayi-contract-signer", f"{party} may not sign: the signer is {kind}",
                            (f"Contract.signer[{i}].party",))


def _valid_signer(uow: UnitOfWork, party: str, subjects: list[str], group: dict | None) -> bool:
    if party in subjects:
        return True
    if party.startswith("RelatedPerson/"):
        related = queries.current(uow, party)
        return related is not None and el.local_ref(related.get("patient")) in subjects
    if group is not None:
        return party in r.group_members(group)
    # a guardian who is a resident: a member of the household of someone covered
    return any(party in r.group_members(g) for s in subjects for g in queries.referring(uow, "Group", "member", s))


def one_in_force(uow: UnitOfWork, res_id: str, contract: dict) -> Iterator[Violation]:
    term = r.applies(contract)
    for i, subject in enumerate(contract.get("subject") or []):
        patient = el.local_ref(subject)
        if not patient or not patient.startswith("Patient/"):
            continue
        for other in queries.referring(uow, "Contract", "patient", patient):
            if (other.get("id") != res_id and other.get("status") == "executed" and r.is_family_doctor_contract(other)
                    and r.overlaps(term, r.applies(other))):
                yield Violation("jiayi-contract-one-in-force",
                                f"{patient} already has Contract/{other['id']} in force "
                                f"({other.get('applies', {}).get('start')}..{other.get('applies', {}).get('end')}); "
                                "a resident signs with one family-doctor team at a time",
                                (f"Contract.subject[{i}]",), conflict=True)


def capacity(uow: UnitOfWork, event: WriteEvent, contract: dict) -> Iterator[Violation]:
    team_ref = r.care_team(contract)
    team = queries.current(uow, team_ref)
    start, end = r.applies(contract)
    if team is None or team_ref is None or start is None or end is None:
        return
    previous = event.previous.content if event.previous is not None and not event.previous.deleted else None
    if previous and _counted(previous, team_ref, (start, end)):
        return  # already counted against this team: the load does not change
    limit = r.capacity(team)
    if uow.counted(TEAM_LOAD + team_ref, _month(start)) + 1 <= limit:
        return  # the maintained upper bound leaves room: no count needed
    load = queries.count(uow, "Contract", [("care-team", team_ref), ("status", "executed"),
                                          ("applies", f"ge{start}"), ("applies", f"le{end}")])
    if load + 1 > limit:
        yield Violation("jiayi-team-capacity", f"{team_ref} serves {load} households under contract in this "
                        f"term, its capacity is {limit} (jiayi-team-capacity)", ("Contract.extension",),
                        conflict=True)


def team_load_bucket(contract: dict | None) -> tuple[str, str] | None:
    """The counter row a stored contract counts in: (scope of its team, month its term ends);
    None when it does not count (not an executed family-doctor contract naming a team)."""
    if contract is None or contract.get("status") != "executed" or not r.is_family_doctor_contract(contract):
        return None
    team = r.care_team(contract)
    if not team:
        return None
    end = r.applies(contract)[1]
    return TEAM_LOAD + team, _month(end) if end else OPEN_END


def team_load_rows(contracts: Iterable[dict]) -> Counter[tuple[str, str]]:
    """The counter rows of a set of stored contracts (the migration's backfill)."""
    return Counter(bucket for bucket in map(team_load_bucket, contracts) if bucket)


def count_team_contracts(uow: UnitOfWork, event: WriteEvent) -> None:
    """The write hook keeping the team load: the contract leaves the row it counted in and
    enters its new one, under each team's lock (the one the capacity check takes)."""
    if event.res_type != "Contract":
        return
    previous = event.previous.content if event.previous is not None and not event.previous.deleted else None
    before, after = team_load_bucket(previous), team_load_bucket(event.resource)
    if before == after:
        return
    moves = [(bucket, delta) for bucket, delta in ((before, -1), (after, 1)) if bucket is not None]
    for team in sorted({bucket[0].removeprefix(TEAM_LOAD) for bucket, _ in moves}):
        uow.lock(f"jiayi-team:{team}")
    for bucket, delta in moves:
        uow.add_count(*bucket, delta)


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _counted(previous: dict, team: str | None, term: tuple) -> bool:
    return (previous.get("status") == "executed" and r.care_team(previous) == team
            and r.overlaps(term, r.applies(previous)))


def check_team_write(uow: UnitOfWork, event: WriteEvent) -> None:
    """A family-doctor team (category family-doctor-team) keeps exactly one lead family doctor."""
    if event.res_type != "CareTeam" or event.resource is None or not r.is_family_doctor_team(event.resource):
        return
    problem = team_lead_problem(event.resource)
    if problem:
        raise_if_any([Violation("jiayi-team-lead", problem, ("CareTeam.participant",))])
