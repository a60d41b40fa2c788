"""A principal's reach (:class:`fhir_server.auth.access.Reach`) as a SQL condition on the
resource table (SPEC §6, Appendix A "Access by relationship").

The executor adds it to the WHERE clause of a search, its includes and its stored pages, so
``total``, paging, ``_include`` and ``_summary=count`` are computed over the visible rows only.
A resource is visible when it is a reachable Patient, or when it is of a type in the Patient
compartment and one of its compartment references names a reachable Patient; a resource that
names no Patient at all through those parameters (a team's CareTeam, a practitioner's
Schedule) is not personal data and stays visible.  The R4 compartment leaves out a few types that
hold a resident's data all the same: :data:`OUTSIDE_COMPARTMENT` names them with the parameter
that points at the Patient, and they are limited exactly like compartment types (a family-doctor
Contract by its subject, above all).  Every other type outside the compartment is directory or
definition data (Organization, Practitioner, PlanDefinition, Measure...) and is visible.

Reachable Patients, all from the reference and token/date index tables:
- the explicit ids (a resident's own record, the patient/ launch context);
- a guardian's: ``RelatedPerson.patient`` of their RelatedPerson, when the relationship is
  guardian or parent and the patient is under 18;
- a doctor's: subjects of executed Contracts in force today whose care team (extension
  ``jiayi-contract-care-team``) lists the doctor as a participant, and patients of Tasks owned
  by / ServiceRequests performed by their organization (PractitionerRole) or the role itself;
- a public-health role's: Patients managed by the region's Organization or one below it
  (``Organization.partOf``, followed by a recursive query).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    exists,
    false,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union,
)
from sqlalchemy.sql import Select

from fhir_server.auth.access import Reach
from fhir_server.search.registry import compartment_params
from fhir_server.search.sql.builder import probe
from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

R = ResourceRow.__table__
REF, TOKEN, DATE = INDEX_TABLES["reference"], INDEX_TABLES["token"], INDEX_TABLES["date"]
Ids = Sequence[str] | Select
ADULT_AGE = 18
# Types outside the R4 Patient compartment whose instances are about one resident, with the
# reference parameters (to a Patient) that say whose: limited by reach like compartment types.
OUTSIDE_COMPARTMENT: dict[str, tuple[str, ...]] = {
    "Contract": ("patient",),  # Contract.subject: the signed resident (SPEC: family-doctor contract)
    "Device": ("patient",),  # a resident's home device (glucometer, blood-pressure cuff)
    "GuidanceResponse": ("patient",),  # decision support about one resident
    "Linkage": ("item",),  # links a resident's duplicate records
    "MessageHeader": ("focus",),  # a message about a resident
    "VerificationResult": ("target",),
}
# v3 RoleCode: guardian, parent, mother, father, natural/step/foster parent
GUARDIANS = ("GUARD", "PRN", "MTH", "FTH", "NPRN", "NMTH", "NFTH", "STPPRN", "STPMTH", "STPFTH", "PRNFOST",
             "MTHFOST", "FTHFOST", "ADOPTP", "ADOPTM", "ADOPTF")


def reach_condition(reach: Reach, res_type: str | None = None, now: datetime | None = None) -> ColumnElement:
    """Visibility of the row of ``R`` under ``reach`` (``res_type`` None: any type).  The same
    condition object serves a minute's requests of one principal: building it costs more than
    running it, and an unchanged statement is compiled once (SQLAlchemy's statement cache)."""
    if now is not None:
        return _condition(reach, res_type, now)
    minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return _cached_condition(reach, res_type, minute)


@lru_cache(maxsize=1024)
def _cached_condition(reach: Reach, res_type: str | None, minute: datetime) -> ColumnElement:
    return _condition(reach, res_type, minute)


def visible_instance(reach: Reach, res_type: str) -> Select:
    """``SELECT res_id`` of the current resource ``res_type``/``:i`` when it is within ``reach``:
    the check of a read, vread or write of one instance.  One statement object per principal,
    type and minute, so SQLAlchemy computes its cache key once (memoized on the object) instead
    of walking the relationship subqueries on every request; the data (contracts, teams,
    referrals) is still read in SQL by each execution, so a change is seen by the next request."""
    minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return _visible_instance(reach, res_type, minute)


@lru_cache(maxsize=1024)
def _visible_instance(reach: Reach, res_type: str, minute: datetime) -> Select:
    return select(R.c.res_id).where(R.c.res_type == res_type, R.c.res_id == bindparam("i"),
                                    R.c.deleted.is_(False), _cached_row_condition(reach, res_type, minute))


def row_condition(reach: Reach, res_type: str) -> ColumnElement:
    """The same visibility as :func:`reach_condition`, asked from the residents each row names
    (:func:`_instance_condition`): cheaper when the rest of a query leaves few rows (one record's
    check, a search of one resident's records), dearer over many (a team's contracts), where
    building the reachable set once wins."""
    minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return _cached_row_condition(reach, res_type, minute)


@lru_cache(maxsize=1024)
def _cached_row_condition(reach: Reach, res_type: str, minute: datetime) -> ColumnElement:
    return _instance_condition(reach, res_type, minute)


def _instance_condition(reach: Reach, res_type: str, now: datetime) -> ColumnElement:
    """:func:`_condition` for one row: each resident the row names is checked on its own
    (:func:`_is_reachable`, a few index probes from that resident), rather than against the
    whole reachable set, which a doctor's read built anew every time (~2,000 residents at 100k:
    10-16 ms a read).  The same visibility; ``tests/api/secured`` holds the two together."""
    if res_type == "Patient":
        return _is_reachable(reach, R.c.res_id, now)
    if res_type == "Binary":
        return _binary(reachable_patients(reach, now))
    pairs = _compartment_pairs(res_type)
    if not pairs:
        return literal(True)
    return _through_patients(pairs, lambda target: _is_reachable(reach, target, now), _each_row)


def _through_patients(pairs: list[tuple[str, str]], reachable_target: Callable[[ColumnElement], ColumnElement] | None,
                      exists_: Callable[..., ColumnElement]) -> ColumnElement:
    """A row of a resident's type is visible when it names no Patient through ``pairs``, or names
    one that ``reachable_target`` (a condition on the target id column) accepts (None: none is)."""
    linked = REF.alias()
    names_a_patient = exists_(linked.c.res_type == R.c.res_type, linked.c.res_id == R.c.res_id,
                              tuple_(linked.c.res_type, linked.c.param).in_(pairs), linked.c.target_type == "Patient")
    if reachable_target is None:
        return or_(~names_a_patient, false())
    ref = REF.alias()
    reachable = exists_(ref.c.res_type == R.c.res_type, ref.c.res_id == R.c.res_id,
                        tuple_(ref.c.res_type, ref.c.param).in_(pairs), ref.c.target_type == "Patient",
                        reachable_target(ref.c.target_id))
    return or_(~names_a_patient, reachable)


def _each_row(*conditions: ColumnElement) -> ColumnElement:
    """``EXISTS (SELECT 1 … OFFSET 0)``: a probe run for each row it is asked about.  Without the
    ``OFFSET 0`` PostgreSQL turns an ``EXISTS`` under an ``OR`` into a hashed set of every row
    that could match (the doctor's contracts' residents, 439 of them at 2,000 residents: 3.5 ms
    a check in a generic plan), which is what asking from one resident avoids; ``OFFSET`` is the
    fence it does not simplify through (SQLite: ``LIMIT -1 OFFSET 0``, the same probe)."""
    return exists(select(literal_column("1")).where(*conditions).offset(0))


def _is_reachable(reach: Reach, patient: ColumnElement, now: datetime) -> ColumnElement:
    """Is the Patient ``patient`` (a column: the row's id, or a reference's target id) among
    :func:`reachable_patients`?  Asked from that resident: its contracts, referrals, guardians
    and managing organization, each one indexed probe."""
    ways: list[ColumnElement] = []
    if reach.patients:
        record = R.alias()
        ways.append(_each_row(record.c.res_type == "Patient", record.c.res_id == patient,
                              record.c.res_id.in_(reach.patients)))
    if reach.related_person:
        ways.append(_is_minor_ward(reach.related_person, patient, now))
    if reach.practitioner:
        ways += _is_practitioners_patient(reach.practitioner, patient, now)
    if reach.region:
        managed = REF.alias()
        ways.append(_each_row(managed.c.res_type == "Patient", managed.c.res_id == patient,
                              managed.c.param == "organization", managed.c.target_type == "Organization",
                              managed.c.target_id.in_(_region(reach.region))))
    return or_(*ways) if ways else false()


def _condition(reach: Reach, res_type: str | None, now: datetime) -> ColumnElement:
    patients = reachable_patients(reach, now)
    pairs = _compartment_pairs(res_type)
    own: ColumnElement = false() if patients is None else R.c.res_id.in_(patients)
    reachable_target = None if patients is None else (lambda target: _hashed(target.in_(patients)))
    others = _through_patients(pairs, reachable_target, _probe) if pairs else literal(True)
    if res_type == "Patient":
        return own
    if res_type == "Binary":
        return _binary(patients)
    if res_type is not None:
        return others
    return or_(and_(R.c.res_type == "Patient", own), and_(R.c.res_type == "Binary", _binary(patients)),
               and_(R.c.res_type.not_in(("Patient", "Binary")), others))


def _hashed(membership: ColumnElement) -> ColumnElement:
    """``membership`` (``x IN (SELECT …)``, uncorrelated) kept out of the planner's semi-join pull-up.

    Inside a correlated ``EXISTS`` PostgreSQL pulls an ``IN`` up into a semi-join, which it runs
    per outer row as a hash join over the reachable residents, rebuilding the hash table every
    time (0.3 ms × every candidate row: a doctor's contracts due at 100k took 0.5–1 s).  Under an
    ``OR`` it is not pulled up, and an uncorrelated ``IN`` becomes a hashed SubPlan: the reachable
    residents are hashed once per statement and each candidate row is one probe.  The ``OR`` with
    a false literal changes no result (SQLite runs the same ``IN`` from one ephemeral index)."""
    return or_(membership, literal(False))


def _binary(patients: Select | None) -> ColumnElement:
    """A Binary follows its ``securityContext`` (the Jiayi parameter ``security-context``): visible
    when that resource is — a reachable Patient, a resource of a resident's type that names a
    reachable Patient, or one that names no Patient (directory data: an Organization's logo).
    A Binary without a securityContext says nobody's rules, so a limited grant sees none of it
    (docs/decisions.md, "Binary follows its securityContext")."""
    context, linked, ref = REF.alias(), REF.alias(), REF.alias()
    pairs = _compartment_pairs(None)
    names_a_patient = probe().where(linked.c.res_type == context.c.target_type,
                                     linked.c.res_id == context.c.target_id,
                                     tuple_(linked.c.res_type, linked.c.param).in_(pairs),
                                     linked.c.target_type == "Patient")
    if patients is None:
        reachable: ColumnElement = false()
    else:
        reachable = or_(and_(context.c.target_type == "Patient", context.c.target_id.in_(patients)),
                        probe().where(ref.c.res_type == context.c.target_type, ref.c.res_id == context.c.target_id,
                                       tuple_(ref.c.res_type, ref.c.param).in_(pairs),
                                       ref.c.target_type == "Patient", ref.c.target_id.in_(patients)))
    return probe().where(context.c.res_type == "Binary", context.c.res_id == R.c.res_id,
                          context.c.param == "security-context", context.c.target_type.is_not(None),
                          or_(reachable, and_(context.c.target_type != "Patient", ~names_a_patient)))


def reachable_patients(reach: Reach, now: datetime) -> Select | None:
    parts: list[Select] = []
    if reach.patients:
        parts.append(select(R.c.res_id).where(R.c.res_type == "Patient", R.c.res_id.in_(reach.patients)))
    if reach.related_person:
        parts.append(_minor_wards(reach.related_person, now))
    if reach.practitioner:
        parts += _practitioner_patients(reach.practitioner, now)
    if reach.region:
        parts.append(_referrers("Patient", "organization", "Organization", _region(reach.region)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else select(union(*parts).subquery().c[0])


def _practitioner_patients(practitioner: str, now: datetime) -> list[Select]:
    teams, roles, organizations = _practitioners_links(practitioner)
    contracts = _in_force(_referrers("Contract", "care-team", "CareTeam", teams), now)
    # the referrals addressed to the doctor's organizations or roles: those few ids hashed once and
    # each referral's owner probed (``_hashed``).  As a plain IN, PostgreSQL once estimated one
    # Task owner for ~2,000 and probed the organizations for each: 0.95 s a search at 100k.
    tasks = union(_referrers("Task", "owner", "Organization", organizations, hashed=True),
                  _referrers("Task", "owner", "PractitionerRole", roles, hashed=True))
    requests = union(_referrers("ServiceRequest", "performer", "Organization", organizations, hashed=True),
                     _referrers("ServiceRequest", "performer", "PractitionerRole", roles, hashed=True))
    return [_targets("Contract", contracts, "patient", "Patient"),
            _targets("Task", select(tasks.subquery().c[0]), "patient", "Patient"),
            _targets("ServiceRequest", select(requests.subquery().c[0]), "patient", "Patient")]


def _practitioners_links(practitioner: str) -> tuple[Select, Select, Select]:
    """The doctor's family-doctor teams, PractitionerRoles and those roles' organizations."""
    roles = _referrers("PractitionerRole", "practitioner", "Practitioner", [practitioner])
    return (_referrers("CareTeam", "participant", "Practitioner", [practitioner]), roles,
            _targets("PractitionerRole", roles, "organization", "Organization"))


def _is_practitioners_patient(practitioner: str, patient: ColumnElement, now: datetime) -> list[ColumnElement]:
    """:func:`_practitioner_patients` asked from one resident: a contract of theirs in force
    with one of the doctor's teams, or a Task / ServiceRequest about them owned / performed by
    the doctor's organization or role."""
    teams, roles, organizations = _practitioners_links(practitioner)
    contract, team = REF.alias(), REF.alias()
    ways = [_each_row(contract.c.res_type == "Contract", contract.c.param == "patient",
                      contract.c.target_type == "Patient", contract.c.target_id == patient,
                      _each_row(team.c.res_type == "Contract", team.c.res_id == contract.c.res_id,
                                team.c.param == "care-team", team.c.target_type == "CareTeam",
                                team.c.target_id.in_(teams)),
                      _in_force_condition(contract.c.res_id, now, _each_row))]
    for source_type, param in (("Task", "owner"), ("ServiceRequest", "performer")):
        about, by = REF.alias(), REF.alias()
        ways.append(_each_row(
            about.c.res_type == source_type, about.c.param == "patient", about.c.target_type == "Patient",
            about.c.target_id == patient,
            _each_row(by.c.res_type == source_type, by.c.res_id == about.c.res_id, by.c.param == param,
                      or_(and_(by.c.target_type == "Organization", by.c.target_id.in_(organizations)),
                          and_(by.c.target_type == "PractitionerRole", by.c.target_id.in_(roles))))))
    return ways


def _minor_wards(related_person: str, now: datetime) -> Select:
    """The patient of a RelatedPerson who is their guardian or parent, while the patient is a
    minor (under 18 by ``birthDate``): a guardian sees the minor's record, not an adult's."""
    ward = _targets("RelatedPerson", [related_person], "patient", "Patient").subquery().c[0]
    return select(ward).where(_guardian(related_person), _minor(ward, now))


def _is_minor_ward(related_person: str, patient: ColumnElement, now: datetime) -> ColumnElement:
    """:func:`_minor_wards` asked from one resident."""
    ward = REF.alias()
    return and_(_guardian(related_person), _minor(patient, now), _each_row(
        ward.c.res_type == "RelatedPerson", ward.c.res_id == related_person, ward.c.param == "patient",
        ward.c.target_type == "Patient", ward.c.target_id == patient))


def _guardian(related_person: str) -> ColumnElement:
    role = TOKEN.alias()
    return _each_row(role.c.res_type == "RelatedPerson", role.c.res_id == related_person,
                     role.c.param == "relationship", role.c.code.in_(GUARDIANS))


def _minor(patient: ColumnElement, now: datetime) -> ColumnElement:
    born = DATE.alias()
    return _each_row(born.c.res_type == "Patient", born.c.res_id == patient, born.c.param == "birthdate",
                     born.c.low > _years_before(now, ADULT_AGE))


def _years_before(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _in_force(contracts: Select, now: datetime) -> Select:
    """Those of ``contracts`` (a select of Contract ids) that are executed and whose ``applies``
    covers ``now``: checked on each id the select finds, by the owner index.  (Checked on every
    reference row of every contract, as ``res_id IN (contracts)`` did, they were read eleven
    times over: a doctor's reach at 5k residents cost 8k status and 7k date lookups.)"""
    return contracts.where(_in_force_condition(contracts.selected_columns[0], now))


def _probe(*conditions: ColumnElement) -> ColumnElement:
    """``EXISTS (SELECT 1 …)`` that the planner may rewrite as it likes (see :func:`_each_row`)."""
    return probe().where(*conditions)


def _in_force_condition(contract: ColumnElement, now: datetime,
                        exists_: Callable[..., ColumnElement] = _probe) -> ColumnElement:
    """The Contract ``contract`` (an id column) is executed and its ``applies`` covers ``now``
    (``exists_``: how each probe is written, :func:`_each_row` for one resident's contracts)."""
    status, applies = TOKEN.alias(), DATE.alias()
    return and_(
        exists_(status.c.res_type == "Contract", status.c.res_id == contract,
                status.c.param == "status", status.c.code == "executed"),
        exists_(applies.c.res_type == "Contract", applies.c.res_id == contract,
                applies.c.param == "applies", applies.c.low <= now, applies.c.high > now))


def _region(organization: str) -> Select:
    """The Organization and every one below it through ``partOf``."""
    tree = select(literal(organization).label("id")).cte("region", recursive=True)
    ref = REF.alias()
    below = select(ref.c.res_id).join(tree, ref.c.target_id == tree.c.id).where(
        ref.c.res_type == "Organization", ref.c.param == "partof", ref.c.target_type == "Organization")
    return select(tree.union(below).c.id)


def _referrers(source_type: str, param: str, target_type: str, targets: Ids, hashed: bool = False) -> Select:
    """Ids of ``source_type`` resources whose ``param`` refers to one of ``targets`` (``hashed``:
    a select of few targets, hashed once, see :func:`_hashed`)."""
    ref = REF.alias()
    member = ref.c.target_id.in_(targets)
    return select(ref.c.res_id).where(ref.c.res_type == source_type, ref.c.param == param,
                                      ref.c.target_type == target_type, _hashed(member) if hashed else member)


def _targets(source_type: str, sources: Ids, param: str, target_type: str) -> Select:
    """Ids of the ``target_type`` resources that ``sources`` refer to through ``param``."""
    ref = REF.alias()
    return select(ref.c.target_id).where(ref.c.res_type == source_type, ref.c.res_id.in_(sources),
                                         ref.c.param == param, ref.c.target_type == target_type)


def _compartment_pairs(res_type: str | None) -> list[tuple[str, str]]:
    params: dict[str, Any] = {**compartment_params("Patient"), **OUTSIDE_COMPARTMENT}
    types = [res_type] if res_type is not None else list(params)
    return [(t, code) for t in types for code in params.get(t, ()) if t != "Patient"]


def team_patients(teams: Ids, now: datetime) -> Select:
    """The subjects of the contracts in force today whose care team is one of ``teams`` (a
    family-doctor team's contracted residents: what a team Group of the Bulk export stands for)."""
    return _targets("Contract", _in_force(_referrers("Contract", "care-team", "CareTeam", teams), now),
                    "patient", "Patient")
