"""The district measures counted in SQL over the search index tables (issue 19: "KPI measures as
SQL aggregations over the index tables, not Python loops over resources").

For the resident measures (coverage, key-population coverage, the two follow-up rates, long-term
prescriptions) and the contract measures read per contract in force (paid-contract share, team
load), one statement joins every active resident to their first family-doctor contract in force
on the period's end and to the strata the report needs (the contract's first care team and
authority, else the resident's first managing organisation; the resident's key populations), and
``GROUP BY``s them, so a summary over 100,000 residents comes back as a few hundred rows of counts.
A subject list or an individual report asks the same statement per member (ordered as the
snapshot's members), counted by the same report code.  The caller's reach is a condition of the
statement (the reachable residents' ids, :func:`fhir_server.search.sql.reach.reachable_patients`).

What the index cannot decide exactly is decided as :class:`IndexSnapshot` decides it, before the
statement runs, and passed into it: the contracts whose ``applies`` lies within a day of the date
asked (or has no start) are judged on the resource and named in the statement; a Patient the
index calls deceased counts only with ``deceasedBoolean``; the encounters within a day of the
period's ends are counted in Python and added per resident.  ``tests/storage/test_district_reads.py``
compares every measure with the full snapshot's Python evaluation on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime

from sqlalchemy import Integer, String, and_, bindparam, case, column, exists, false, func, literal, or_, select, values
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from fhir_server.auth.access import Reach
from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.familydoctor import names as n
from fhir_server.search.sql.reach import reachable_patients
from fhir_server.storage.db import postgres_setting

from .index_snapshot import DATE, MARGIN, REF, TOKEN, IndexSnapshot, R, _day, _family_doctor, _instant
from .indicators import CHRONIC, CHRONIC_FOLLOW_UPS_PER_YEAR, Member, _is_long_term
from .indicators import INDICATORS as STEPS
from .reach import within_reach
from .snapshot import NONE, Period, follow_up_counts

SEP = "\x1f"  # between a resident's key-population codes in one aggregated string
NO_START = dt.datetime(1000, 1, 1)  # the index's start of an open-started range is year 1
RESIDENT = ("coverage", "key-population-coverage", "follow-up-rate", "chronic-follow-up-rate",
            "long-term-prescriptions")
CONTRACT = ("paid-contract-share", "team-load", "fulfilment-rate", "renewal-rate")
# counted by the indicator's own Python over the few residents it names (referrals, surveys),
# read for those residents only rather than the district
FOCUSED = ("upward-referrals", "downward-referrals", "return-rate", "satisfaction")
FOCUS_MAX = 5000  # residents per focused read (one IN list); more, and the district is read
INDICATORS = RESIDENT + CONTRACT + FOCUSED
KEPT = 64  # whole-district summaries kept per snapshot: (indicator, period), a few hundred groups each


def members(snap, indicator: str, period: Period, *, reach: Reach | None, listed: bool,
            subject: str | None) -> Iterable[Member] | None:
    """The members of ``indicator`` counted in SQL, reach applied; None when this module does not
    answer it (another indicator, not an index snapshot, or an index without what it needs)."""
    if not isinstance(snap, IndexSnapshot) or indicator not in INDICATORS:
        return None
    if indicator in ("follow-up-rate", "chronic-follow-up-rate") and not snap._encounter_index:
        return None
    if reach is None and not listed and subject is None:
        # the whole district's summary: a few hundred grouped rows, kept with the (shared) snapshot
        # while its data is unchanged, as the snapshot's own parts are
        key = (indicator, period)
        kept = snap._counted.get(key)
        if kept is None:
            kept = snap._counted[key] = list(_members(snap, indicator, period, None, False, None))
            while len(snap._counted) > KEPT:
                snap._counted.pop(next(iter(snap._counted)))
        return kept
    return _members(snap, indicator, period, reach, listed, subject)


def _members(snap: IndexSnapshot, indicator: str, period: Period, reach: Reach | None, listed: bool,
             subject: str | None) -> Iterable[Member]:
    if indicator == "team-load":
        return _team_load(snap, period)
    if indicator in FOCUSED:
        return _focused(snap, indicator, period, reach)
    counting = _Counting(snap, period, reach, subject)
    if indicator == "paid-contract-share":
        return counting.paid_contracts(listed or subject is not None)
    if indicator == "fulfilment-rate":
        return counting.fulfilment(listed or subject is not None)
    if indicator == "renewal-rate":
        return counting.renewals(listed or subject is not None)
    return counting.residents(indicator, listed or subject is not None)


def _focused(snap: IndexSnapshot, indicator: str, period: Period, reach: Reach | None) -> Iterable[Member]:
    """The referral and survey indicators over a snapshot of the residents they name: their
    residents' strata and contracts are read for those residents only (a few thousand at 100,000
    residents), not the whole district; counted by the indicator itself, reach applied after."""
    part = "responses" if indicator == "satisfaction" else "referrals"
    items = getattr(snap, part)
    patients = sorted({ref.removeprefix("Patient/") for item in items
                       for ref in [el.reference_text(item.get("subject"))] if ref and ref.startswith("Patient/")})
    source: IndexSnapshot = snap
    if len(patients) <= FOCUS_MAX:
        source = IndexSnapshot(snap._uow, snap._session, snap._encounter_index, only=patients)
    source._given[part] = items
    try:
        found: Iterable[Member] = list(STEPS[indicator](source, period))
    finally:
        source._given.pop(part, None)
    return found if reach is None else within_reach(snap._uow, reach, found)


def _text(ref) -> ColumnElement:
    """A reference row as :func:`.index_snapshot._text` reads it: ``type/id``, else its URL."""
    typed = and_(ref.c.target_type.is_not(None), ref.c.target_type != "", ref.c.target_id.is_not(None),
                 ref.c.target_id != "")
    return case((typed, ref.c.target_type + "/" + ref.c.target_id), else_=ref.c.url)


def _first_text(res_type: str, param: str, owner, *, texted: bool) -> ColumnElement:
    """The text of ``owner``'s first ``param`` reference (by index row, the element order); with
    ``texted``, the first that has a text (as the snapshot keeps a contract's references)."""
    ref = REF.alias()
    text = _text(ref)
    query = select(text).where(ref.c.res_type == res_type, ref.c.param == param, ref.c.res_id == owner)
    if texted:
        query = query.where(text.is_not(None), text != "")
    return query.order_by(ref.c.id).limit(1).scalar_subquery()


def _run(session, statement, *, scalars: bool = False) -> list:
    """``statement``'s rows.  On PostgreSQL planned without nested loops: the index tables'
    columns are estimated independently (a contract type, status and date each selective), so
    the planner expects one row where there are thousands and joins them in nested loops that
    re-read a whole-district subquery per resident (minutes at 20,000 residents); these
    statements read the district and want hash joins."""
    planned = (postgres_setting(session, "enable_nestloop", "off") if session.get_bind().dialect.name == "postgresql"
               else nullcontext())
    with planned:
        result = session.execute(statement)
        return list(result.scalars() if scalars else result)


class _Lookups:
    """The strata lookups of a statement: correlated sub-selects per row on SQLite (its index
    probes are cheap and it has no hash join), ``LEFT JOIN``s to one row per owner on PostgreSQL
    (hash joins; a sub-plan per row cost ~1 s of server CPU at 20,000 residents)."""

    def __init__(self, session) -> None:
        self.joined = session.get_bind().dialect.name == "postgresql"
        self.joins: list[tuple] = []

    def first_text(self, res_type: str, param: str, owner, *, texted: bool) -> ColumnElement:
        if not self.joined:
            return _first_text(res_type, param, owner, texted=texted)
        # DISTINCT ON reads the (type, parameter)'s rows only; ``id IN (SELECT min(id) … GROUP BY)``
        # was planned as a scan of the whole reference table per lookup (0.7 s each at 100k)
        ref = REF.alias()
        text = _text(ref)
        firsts = select(ref.c.res_id.label("owner"), text.label("text")).where(
            ref.c.res_type == res_type, ref.c.param == param)
        if texted:
            firsts = firsts.where(text.is_not(None), text != "")
        table = firsts.ext(distinct_on(ref.c.res_id)).order_by(ref.c.res_id, ref.c.id).subquery()
        self.joins.append((table, table.c.owner == owner))
        return table.c.text

    def per_owner(self, value, owned_by, owner) -> ColumnElement:
        """``value`` (a ``SELECT`` of one aggregate labelled ``value``) over the rows ``owned_by``
        ``owner``: on PostgreSQL grouped by ``owned_by`` once over the whole type and joined, elsewhere
        a sub-select per owner.  None where the owner has no rows."""
        if not self.joined:
            return value.where(owned_by == owner).scalar_subquery()
        table = value.add_columns(owned_by.label("owner")).group_by(owned_by).subquery()
        self.joins.append((table, table.c.owner == owner))
        return table.c.value

    def key_populations(self, patient) -> ColumnElement:
        if not self.joined:
            return _key_populations(patient)
        token = TOKEN.alias()
        table = (select(token.c.res_id.label("owner"), func.aggregate_strings(token.c.code, SEP).label("kp"))
                 .where(token.c.res_type == "Patient", token.c.param == "key-population",
                        token.c.system == n.KEY_POPULATION_CS, token.c.code.is_not(None), token.c.code != "")
                 .group_by(token.c.res_id).subquery())
        self.joins.append((table, table.c.owner == patient))
        return table.c.kp

    def join(self, source):
        for table, on in self.joins:
            source = source.outerjoin(table, on)
        return source


def _key_populations(patient) -> ColumnElement:
    token = TOKEN.alias()
    return (select(func.aggregate_strings(token.c.code, SEP))
            .where(token.c.res_type == "Patient", token.c.param == "key-population",
                   token.c.system == n.KEY_POPULATION_CS, token.c.res_id == patient,
                   token.c.code.is_not(None), token.c.code != "").scalar_subquery())


def _has_key_population(patient, codes: tuple[str, ...] | None = None) -> ColumnElement:
    token = TOKEN.alias()
    condition = exists().where(token.c.res_type == "Patient", token.c.param == "key-population",
                               token.c.system == n.KEY_POPULATION_CS, token.c.res_id == patient,
                               token.c.code.is_not(None), token.c.code != "")
    if codes is not None:
        condition = condition.where(token.c.code.in_(codes))
    return condition


def _materialized(query):
    """``query`` as a CTE computed once: flattened into the ``GROUP BY`` around it, SQLite would
    run each correlated lookup twice per row (once to group, once to select)."""
    return query.cte().prefix_with("MATERIALIZED")


def _strata(institution: str | None, team: str | None, key_populations: str | None) -> dict[str, list[str]]:
    return {"institution": [institution or NONE], "team": [team or NONE],
            "key-population": key_populations.split(SEP) if key_populations else [NONE]}


class _Counting:
    """One evaluation's statements: the contracts in force on the period's end, the residents."""

    def __init__(self, snap: IndexSnapshot, period: Period, reach: Reach | None, subject: str | None) -> None:
        self.snap, self.period, self.reach, self.subject = snap, period, reach, subject

    # --- the contracts in force ----------------------------------------------------------------
    def in_force(self, when: dt.date):
        """Ids of the executed family-doctor contracts in force on ``when``: certainly by their
        ``applies`` instants, or judged on the resource when within a day of ``when`` or unstarted."""
        snap, day = self.snap, _day(when)
        before, after = day - MARGIN, day + 2 * MARGIN
        d = DATE.alias()
        applies = (d.c.res_type == "Contract", d.c.param == "applies", d.c.res_id.in_(self.executed()))
        judged = snap._judged_in_force.get(when)  # kept with the snapshot: the cards share a period's end
        if judged is None:
            uncertain = _run(snap._session, select(d.c.res_id).where(
                *applies, d.c.low < after, d.c.high > before,
                or_(d.c.low < NO_START, d.c.low >= before, d.c.high <= after)), scalars=True)
            snap._exact_many(uncertain)
            judged = snap._judged_in_force[when] = sorted({i for i in uncertain if snap._exact(i).in_force_on(when)})
        # the judged ids written into the statement (thousands at 100,000 residents: no bind limit)
        named = d.c.res_id.in_(bindparam("judged", judged, expanding=True, literal_execute=True))
        return select(d.c.res_id).where(*applies, or_(and_(d.c.low >= NO_START, d.c.low < before, d.c.high > after),
                                                      named))

    def chosen(self, when: dt.date):
        """Patient id → the first (by id) family-doctor contract in force naming them a subject."""
        s = REF.alias()
        return (select(s.c.target_id.label("patient"), func.min(s.c.res_id).label("contract"))
                .where(s.c.res_type == "Contract", s.c.param == "subject", s.c.target_type == "Patient",
                       s.c.res_id.in_(self.in_force(when)))
                .group_by(s.c.target_id).subquery())

    # --- who is counted --------------------------------------------------------------------------
    def _reachable(self, column) -> list[ColumnElement]:
        """The caller's reach as a condition on a Patient id column (none for an unlimited caller)."""
        if self.reach is None:
            return []
        query = reachable_patients(self.reach, datetime.now(UTC).replace(tzinfo=None))
        return [false() if query is None else column.in_(query)]

    def _deceased(self) -> list[str]:
        """Patients the index calls deceased that are (``deceasedBoolean``): as the snapshot."""
        s = self.snap._session
        ids = sorted(set(s.execute(select(TOKEN.c.res_id).where(
            TOKEN.c.res_type == "Patient", TOKEN.c.param == "deceased", TOKEN.c.code == "true")).scalars()))
        if not ids:
            return []
        return sorted(i for i, content in s.execute(select(R.c.res_id, R.c.content).where(
            R.c.res_type == "Patient", R.c.res_id.in_(ids))) if (content or {}).get("deceasedBoolean"))

    def _active(self, p) -> list[ColumnElement]:
        inactive = TOKEN.alias()
        return [p.c.res_type == "Patient", p.c.deleted.is_(False),
                p.c.res_id.not_in(select(inactive.c.res_id).where(
                    inactive.c.res_type == "Patient", inactive.c.param == "active", inactive.c.code == "false")),
                p.c.res_id.not_in(self._deceased())]

    def _follow_ups(self, patient) -> ColumnElement:
        """Finished follow-up encounters of the period per resident: the index's count for those
        well inside it, plus the ones near its ends judged on the resource.  The caller joins
        :attr:`follow_up_joins` (the counts, and on PostgreSQL the near ones as a ``VALUES`` list)."""
        snap, period = self.snap, self.period
        d, subject, kind, item = DATE.alias(), REF.alias(), TOKEN.alias(), TOKEN.alias()
        follow_up = or_(d.c.res_id.in_(select(kind.c.res_id).where(
                            kind.c.res_type == "Encounter", kind.c.param == "type",
                            kind.c.system == jn.FOLLOW_UP_METHOD, kind.c.code.is_not(None))),
                        d.c.res_id.in_(select(item.c.res_id).where(
                            item.c.res_type == "Encounter", item.c.param == "service-item")))
        counted = (select(subject.c.target_id.label("patient"), func.count().label("n"))
                   .select_from(d.join(subject, and_(subject.c.res_type == "Encounter",
                                                     subject.c.param == "subject", subject.c.res_id == d.c.res_id)))
                   .where(*snap._certainly_in(d, period), follow_up, subject.c.target_type == "Patient")
                   .group_by(subject.c.target_id).subquery())
        near = {ref.removeprefix("Patient/"): count
                for ref, count in follow_up_counts(snap._near_ends(period), period).items()
                if ref.startswith("Patient/")}
        self.follow_up_joins: list[tuple[FromClause, ColumnElement]] = [(counted, counted.c.patient == patient)]
        total: ColumnElement = func.coalesce(counted.c.n, 0)
        if near and snap._session.get_bind().dialect.name == "postgresql":
            # joined by hash: a CASE of one WHEN per resident (~225 at 100k) was tested on every one
            # of the district's residents (~0.8 s of the follow-up Measures' database CPU)
            judged = values(column("patient", String), column("n", Integer), name="near_ends").data(
                sorted(near.items()))
            self.follow_up_joins.append((judged, judged.c.patient == patient))
            total = total + func.coalesce(judged.c.n, 0)
        elif near:
            total = total + case(near, value=patient, else_=0)
        return total

    # --- the resident measures -------------------------------------------------------------------
    def residents(self, indicator: str, per_member: bool) -> Iterator[Member]:
        p = R.alias()
        chosen = self.chosen(self.period.end)
        signed = chosen.c.contract.is_not(None)
        conditions = [*self._active(p), *self._reachable(p.c.res_id)]
        if self.subject is not None:
            conditions.append(p.c.res_id == self.subject.removeprefix("Patient/"))
        source = p.outerjoin(chosen, chosen.c.patient == p.c.res_id)
        holders: set[str] | None = None
        if indicator == "coverage":
            numerator: ColumnElement = case((signed, 1), else_=0)
        elif indicator == "key-population-coverage":
            numerator = case((signed, 1), else_=0)
            conditions.append(_has_key_population(p.c.res_id))
        elif indicator in ("follow-up-rate", "chronic-follow-up-rate"):
            needed = 1
            if indicator == "chronic-follow-up-rate":
                needed = math.ceil(CHRONIC_FOLLOW_UPS_PER_YEAR * min(1.0, self.period.years))
                conditions.append(_has_key_population(p.c.res_id, CHRONIC))
            conditions.append(signed)
            total = self._follow_ups(p.c.res_id)
            for joined, on in self.follow_up_joins:
                source = source.outerjoin(joined, on)
            numerator = case((total >= needed, 1), else_=0)
        else:  # long-term prescriptions: the holders are read from the prescriptions, per resident
            conditions += [signed, _has_key_population(p.c.res_id, CHRONIC)]
            period = self.period
            holders = {ref.removeprefix("Patient/") for m in self.snap.prescriptions
                       if _is_long_term(m) and m.get("status") in ("active", "completed")
                       and period.contains(el.day_of(m.get("authoredOn")))
                       for ref in [el.reference_text(m.get("subject"))] if ref and ref.startswith("Patient/")}
            numerator = literal(0)
        session = self.snap._session
        lookups = _Lookups(session)
        institution = func.coalesce(lookups.first_text("Contract", "authority", chosen.c.contract, texted=True),
                                    lookups.first_text("Patient", "organization", p.c.res_id, texted=False))
        team = lookups.first_text("Contract", "care-team", chosen.c.contract, texted=True)
        columns = (institution.label("institution"), team.label("team"),
                   lookups.key_populations(p.c.res_id).label("kp"), numerator.label("num"))
        source = lookups.join(source)
        if per_member or holders is not None:
            rows = _run(session, select(p.c.res_id, *columns).select_from(source).where(*conditions)
                                   .order_by(p.c.res_id))
            if per_member:
                for res_id, inst, team_text, kp, num in rows:
                    ref = f"Patient/{res_id}"
                    if holders is not None:
                        num = int(res_id in holders)
                    yield Member(ref, ref, 1, int(num), _strata(inst, team_text, kp))
                return
            groups: dict[tuple, int] = {}
            for res_id, inst, team_text, kp, _ in rows:
                key = (inst, team_text, kp, int(res_id in (holders or ())))
                groups[key] = groups.get(key, 0) + 1
            counted: Iterable[tuple] = ((*key, count) for key, count in groups.items())
        else:
            inner = _materialized(select(*columns).select_from(source).where(*conditions))
            keys = (inner.c.institution, inner.c.team, inner.c.kp, inner.c.num)
            counted = _run(session, select(*keys, func.count()).group_by(*keys))
        for inst, team_text, kp, num, count in counted:
            yield Member("", None, int(count), int(count) * int(num), _strata(inst, team_text, kp), int(count))

    # --- per contract: the contracts in force, the contracts ending in the period ----------------
    def executed(self):
        """Ids of the current executed family-doctor contracts."""
        status, kind = TOKEN.alias(), TOKEN.alias()
        return select(status.c.res_id).where(
            status.c.res_type == "Contract", status.c.param == "status", status.c.code == "executed",
            status.c.res_id.in_(_family_doctor(kind)),
            status.c.res_id.in_(select(R.c.res_id).where(R.c.res_type == "Contract", R.c.deleted.is_(False))))

    def _contracts(self, ids, extra) -> Iterator[tuple]:
        """The contracts ``ids`` in id order: (id, first subject, institution, team, key populations,
        *``extra(contract id column, lookups)``), the strata as the snapshot's ``_strata`` reads a contract and
        its first subject; within the caller's reach only (one lookup level per correlation)."""
        c = R.alias()
        session = self.snap._session
        inner = _Lookups(session)
        contracts = (select(c.c.res_id.label("id"), inner.first_text("Contract", "subject", c.c.res_id, texted=True)
                            .label("first"), *extra(c.c.res_id, inner))
                     .select_from(inner.join(c)).where(c.c.res_type == "Contract", c.c.res_id.in_(ids)).subquery())
        first = contracts.c.first
        # the first subject when it is a Patient: its id, for its strata and the reach
        patient_id = case((first.like("Patient/%"), func.substr(first, len("Patient/") + 1)), else_=None)
        lookups = _Lookups(session)
        institution = func.coalesce(lookups.first_text("Contract", "authority", contracts.c.id, texted=True),
                                    lookups.first_text("Patient", "organization", patient_id, texted=False))
        conditions: list[ColumnElement] = []
        if self.reach is not None:
            # as :func:`.reach.within_reach`: a contract is about its first subject; one without a
            # subject is about no resident and kept, one whose first subject is no Patient is dropped
            conditions.append(or_(first.is_(None), and_(patient_id.is_not(None), *self._reachable(patient_id))))
        others = [column for name, column in contracts.c.items() if name not in ("id", "first")]
        team = lookups.first_text("Contract", "care-team", contracts.c.id, texted=True)
        kp = lookups.key_populations(patient_id)
        return iter(_run(session, select(contracts.c.id, first, institution, team, kp, *others)
                         .select_from(lookups.join(contracts)).where(*conditions).order_by(contracts.c.id)))

    def paid_contracts(self, per_member: bool) -> Iterator[Member]:
        """有偿签约占比: each contract in force, paid when one of its packages' tiers is not basic
        (the few packages are read whole)."""
        snap = self.snap
        paid = sorted(ref for ref in snap.packages if (snap.package_tier(ref) or "basic") != "basic")

        def numerator(contract, _lookups) -> list:
            package = REF.alias()
            return [case((exists().where(package.c.res_type == "Contract", package.c.param == "package",
                                         package.c.res_id == contract, _text(package).in_(paid)), 1),
                         else_=0).label("num")]

        rows = ((f"Contract/{i}", first, 1, int(num), (inst, team, kp))
                for i, first, inst, team, kp, num in self._contracts(self.in_force(self.period.end), numerator))
        return _counted(rows, per_member)

    def fulfilment(self, per_member: bool) -> Iterator[Member]:
        """履约率: per contract in force, the services due by its packages and those delivered in
        the period (the encounters' ``GROUP BY``), as :func:`.indicators.fulfilment_rate`."""
        snap, period = self.snap, self.period
        delivered = snap.services(period)

        def extra(contract, lookups: _Lookups) -> list:
            # per contract its packages' texts and its number of subjects; on PostgreSQL each grouped
            # once over the type and joined: two sub-plans per contract in force were ~0.6 s of PostgreSQL CPU at 100k
            def referenced(param: str, aggregate) -> ColumnElement:
                ref = REF.alias()
                value = select(aggregate(ref).label("value")).where(
                    ref.c.res_type == "Contract", ref.c.param == param, _text(ref).is_not(None), _text(ref) != "")
                return lookups.per_owner(value, ref.c.res_id, contract)

            return [referenced("package", lambda ref: func.aggregate_strings(_text(ref), SEP)).label("packages"),
                    func.coalesce(referenced("subject", lambda _ref: func.count()), 0).label("subjects")]

        years = min(1.0, period.years)
        items_of: dict[str | None, dict[str, int]] = {}

        def rows() -> Iterator[tuple]:
            for i, first, inst, team, kp, packages, subjects in self._contracts(self.in_force(period.end), extra):
                items = items_of.get(packages)
                if items is None:
                    items = items_of[packages] = {}
                    for package in packages.split(SEP) if packages else ():
                        for code, per_year in snap.package_items(package).items():
                            items[code] = max(items.get(code, 0), per_year)
                ref, due, done = f"Contract/{i}", 0, 0
                for code, per_year in items.items():
                    item_due = math.ceil(per_year * years) * max(1, int(subjects))
                    due += item_due
                    done += min(item_due, delivered.get((ref, code), 0))
                if due:
                    yield ref, first, due, done, (inst, team, kp)

        return _counted(rows(), per_member)

    def renewals(self, per_member: bool) -> Iterator[Member]:
        """续签率: executed contracts whose ``applies.end`` falls in the period (near its ends judged
        on the resource, as :meth:`IndexSnapshot.renewals`), renewed when an executed or offered
        contract renews them."""
        snap, period = self.snap, self.period
        start, end = _day(period.start), _day(period.end)
        d = DATE.alias()
        ending = select(d.c.res_id).where(d.c.res_type == "Contract", d.c.param == "applies",
                                          d.c.res_id.in_(self.executed()), d.c.high >= start - MARGIN,
                                          d.c.high < end + 2 * MARGIN)

        def high(contract, _lookups) -> list:
            applies = DATE.alias()
            return [select(func.max(applies.c.high)).where(
                applies.c.res_type == "Contract", applies.c.param == "applies", applies.c.res_id == contract)
                .scalar_subquery().label("high")]

        found = list(self._contracts(ending, high))
        near = [row[0] for row in found if not start + MARGIN <= _instant(row[5]) < end]
        snap._exact_many(near)
        renewed = snap._renewed if snap._renewed is not None else snap._load_renewed()
        rows = ((f"Contract/{i}", first, 1, int(f"Contract/{i}" in renewed), (inst, team, kp))
                for i, first, inst, team, kp, last in found
                if start + MARGIN <= _instant(last) < end or period.contains(snap._exact(i).end))
        return _counted(rows, per_member)


def _counted(rows: Iterable[tuple], per_member: bool) -> Iterator[Member]:
    """(subject, patient, denominator, numerator, (institution, team, key populations)) per member:
    as members, or summed per strata (a member per group)."""
    if per_member:
        for ref, patient, denominator, numerator, strata in rows:
            yield Member(ref, patient, denominator, numerator, _strata(*strata))
        return
    groups: dict[tuple, list[int]] = {}
    for _, _, denominator, numerator, strata in rows:
        group = groups.get(strata)
        if group is None:
            group = groups[strata] = [0, 0, 0]
        group[0] += 1
        group[1] += denominator
        group[2] += numerator
    for strata, (count, denominator, numerator) in groups.items():
        yield Member("", None, denominator, numerator, _strata(*strata), count)


def _team_load(snap: IndexSnapshot, period: Period) -> Iterator[Member]:
    """团队服务负荷 in SQL: households (a contract without a household Group is one) under the
    contracts in force, per first care team, ``COUNT(DISTINCT …)``; members about no resident."""
    c = R.alias()
    lookups = _Lookups(snap._session)  # joined on PostgreSQL: a sub-plan per contract in force, twice, before
    team = lookups.first_text("Contract", "care-team", c.c.res_id, texted=True)
    household = func.coalesce(lookups.first_text("Contract", "household", c.c.res_id, texted=True),
                              literal("Contract/") + c.c.res_id)
    inner = (select(team.label("team"), household.label("household")).select_from(lookups.join(c))
             .where(c.c.res_type == "Contract", c.c.res_id.in_(_Counting(snap, period, None, None)
                                                               .in_force(period.end))).subquery())
    query = (select(inner.c.team, func.count(inner.c.household.distinct())).where(inner.c.team.is_not(None))
             .group_by(inner.c.team))
    households = {str(t): int(k) for t, k in _run(snap._session, query)}
    for team_ref in snap.teams:
        strata = {"institution": [snap.team_institution(team_ref) or NONE], "team": [team_ref],
                  "key-population": [NONE]}
        yield Member(team_ref, None, snap.team_capacity(team_ref), households.get(team_ref, 0), strata)
