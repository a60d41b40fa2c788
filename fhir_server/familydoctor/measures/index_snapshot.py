"""The district read from the search index tables, for the SQL repository: what the indicators
ask of every resident, contract and encounter, without loading a resource and without holding
more than a few tuples per resident between requests (issue 19: a worker's memory must not grow
with the district).

Residents (active, not deceased, managing organisation, key populations) and the executed
family-doctor contracts (with their ``applies`` range, subjects, team, institution, packages and
household) are a few set-wise statements over ``search_token``, ``search_reference`` and
``search_date``, kept as tuples; renewals come from the ``renews`` references of executed or
offered contracts; the encounter counts the follow-up and fulfilment rates need are ``GROUP BY``
statements per period, never kept.  The indicators and the report are the same code as for the
full snapshot.  The few resources the index cannot decide exactly are read whole and judged as
the snapshot judges them: Patients the index calls deceased (a ``deceasedDateTime`` counts as
alive there), contracts whose ``applies`` starts or ends within a day of the date asked (the
index keeps instants in UTC, the snapshot the day as written) or has no start, and encounters
that start within a day of the period's ends.  Referrals, tasks, responses and prescriptions
(few per resident) are read per evaluation and not kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import cast

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.familydoctor import names as n
from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

from .snapshot import (
    FAMILY_DOCTOR_CONTRACT,
    ContractView,
    DistrictSnapshot,
    Period,
    follow_up_counts,
    service_counts,
)

TOKEN, REF, DATE = INDEX_TABLES["token"], INDEX_TABLES["reference"], INDEX_TABLES["date"]
R = ResourceRow.__table__
MARGIN = dt.timedelta(days=1)  # more than any UTC offset: outside it the UTC instant and the written day agree
# (type, parameter) the index must have for this snapshot to answer like the full one
NEEDED = (("Patient", "active"), ("Patient", "deceased"), ("Patient", "organization"), ("Patient", "key-population"),
          ("Contract", "type"), ("Contract", "status"), ("Contract", "applies"), ("Contract", "subject"),
          ("Contract", "care-team"), ("Contract", "authority"), ("Contract", "package"), ("Contract", "household"),
          ("Contract", "renews"))
# the encounter counts from the index; without these the encounters are read per evaluation
ENCOUNTER_NEEDED = (("Encounter", "date"), ("Encounter", "status"), ("Encounter", "subject"), ("Encounter", "type"),
                    ("Encounter", "service-item"), ("Encounter", "contract"))
CHUNK = 500  # ids per IN list when reading resources whole
TRANSIENT = ("encounters", "referrals", "tasks", "responses", "prescriptions")  # read per use, never kept


def index_snapshot(uow) -> DistrictSnapshot:
    """An :class:`IndexSnapshot` when ``uow`` reads a SQL database whose search parameters
    cover what it needs, else the full :class:`DistrictSnapshot`."""
    index_session = getattr(uow, "index_session", None)
    if index_session is None:
        return DistrictSnapshot.load(uow)
    registry = uow.search_params()
    if any(registry.get(t, code) is None for t, code in NEEDED):
        return DistrictSnapshot.load(uow)
    return IndexSnapshot(uow, index_session(), encounters=all(registry.get(t, c) is not None
                                                             for t, c in ENCOUNTER_NEEDED))


def _text(target_type: str | None, target_id: str | None, url: str | None) -> str | None:
    return f"{target_type}/{target_id}" if target_type and target_id else url


class IndexSnapshot(DistrictSnapshot):
    def __init__(self, uow, session: Session, encounters: bool = True, only: list[str] | None = None) -> None:
        super().__init__(uow)
        self._session = session
        # with ``only`` (Patient ids), residents and contracts are read for those residents alone: a
        # snapshot for one evaluation that asks about them only (:func:`.aggregate.focused`)
        self._only = only
        self._given: dict[str, object] = {}  # transient parts already read by the caller
        self._encounter_index = encounters
        # resident → (institution, key populations)
        self._residents: dict[str, tuple[str | None, tuple[str, ...]]] | None = None
        self._names: dict[str, str] = {}
        self._active: list[str] | None = None
        self._bounds: dict[dt.date, tuple[dt.datetime, dt.datetime]] = {}  # day → (day - MARGIN, day + 2 MARGIN)
        self._exact_views: dict[str, ContractView] = {}  # contracts judged on the resource
        self._judged_days: set[dt.date] = set()
        self._judged_in_force: dict[dt.date, list[str]] = {}  # day → contracts near it judged in force
        self._counted: dict[tuple, list] = {}  # (indicator, period) → its grouped members (.aggregate)

    def bind(self, uow) -> None:
        super().bind(uow)
        self._session = uow.index_session() if uow is not None else cast(Session, None)

    def _part(self, name: str):
        """Referrals, tasks, responses, prescriptions and encounters: read for this use only (the
        indicators read each once per evaluation), so a shared snapshot never keeps them."""
        if name in self._given:
            return self._given[name]
        if name not in TRANSIENT:
            return super()._part(name)
        getattr(self, self.LOADERS[name])()
        return self._parts.pop(name)

    # --- residents ------------------------------------------------------------------------
    def _load_residents(self) -> None:
        s, only = self._session, self._only
        ids = s.execute(select(R.c.res_id).where(R.c.res_type == "Patient", R.c.deleted.is_(False),
                                                 *_among(R.c.res_id, only))
                        .order_by(R.c.res_id)).scalars().all()
        inactive = set(s.execute(select(TOKEN.c.res_id).where(
            TOKEN.c.res_type == "Patient", TOKEN.c.param == "active", TOKEN.c.code == "false",
            *_among(TOKEN.c.res_id, only))).scalars())
        deceased = set(s.execute(select(TOKEN.c.res_id).where(
            TOKEN.c.res_type == "Patient", TOKEN.c.param == "deceased", TOKEN.c.code == "true",
            *_among(TOKEN.c.res_id, only))).scalars())
        if deceased:  # judged on the resource: only deceasedBoolean takes a resident out
            contents = s.execute(select(R.c.res_id, R.c.content).where(
                R.c.res_type == "Patient", R.c.res_id.in_(sorted(deceased)))).all()
            deceased = {i for i, content in contents if (content or {}).get("deceasedBoolean")}
        name = self._name
        residents: dict[str, tuple[str | None, tuple[str, ...]]] = {name(f"Patient/{i}"): (None, ()) for i in ids}
        # in index-row order (the order of the resource's elements), sorted here: an ORDER BY
        # would let SQLite walk the whole table by rowid instead of the parameter's index
        organizations = sorted(s.execute(select(REF.c.id, REF.c.res_id, REF.c.target_type, REF.c.target_id, REF.c.url)
                                         .where(REF.c.res_type == "Patient", REF.c.param == "organization",
                                                *_among(REF.c.res_id, only))).all(),
                               key=_row_id, reverse=True)
        for _, res_id, target_type, target_id, url in organizations:
            ref = f"Patient/{res_id}"
            if ref in residents:  # the first managingOrganization (rows read last to first)
                text = _text(target_type, target_id, url)
                residents[ref] = (name(text) if text else None, residents[ref][1])
        del organizations
        for _, res_id, code in sorted(s.execute(select(TOKEN.c.id, TOKEN.c.res_id, TOKEN.c.code).where(
                TOKEN.c.res_type == "Patient", TOKEN.c.param == "key-population",
                TOKEN.c.system == n.KEY_POPULATION_CS, *_among(TOKEN.c.res_id, only))).all(), key=_row_id):
            ref = f"Patient/{res_id}"
            found = residents.get(ref)
            if found is not None and code:
                residents[ref] = (found[0], (*found[1], name(code)))
        self._residents = residents
        # the residents' own key strings (ids and keys are in the same order)
        self._active = [ref for ref, i in zip(residents, ids, strict=True) if i not in inactive and i not in deceased]

    def _name(self, text: str) -> str:
        """One string object per reference or code the snapshot keeps (a team, an institution or
        a resident is named by many rows)."""
        return self._names.setdefault(text, text)

    def active_patients(self) -> Iterator[str]:
        if self._active is None:
            self._load_residents()
        return iter(self._active or ())

    def key_populations(self, patient: str) -> list[str]:
        if self._residents is None:
            self._load_residents()
        found = (self._residents or {}).get(patient)
        return list(found[1]) if found else []

    def institution_of(self, patient: str) -> str | None:
        if self._residents is None:
            self._load_residents()
        found = (self._residents or {}).get(patient)
        return found[0] if found else None

    # --- contracts ---------------------------------------------------------------------------
    def contract_in_force(self, patient: str, when: dt.date) -> ContractView | None:
        """The first (by id) family-doctor contract of ``patient`` in force on ``when``, as the
        full snapshot finds it, from the patient's own contracts."""
        if self._by_subject is None:
            self._load_contracts()
        self._judge_near(when)
        for entry in (self._by_subject or {}).get(patient, ()):
            if self._entry_in_force(entry, when):
                return entry[3]
        return None

    def contracts_in_force(self, when: dt.date) -> Iterator[ContractView]:
        if self._executed is None:
            self._load_contracts()
        self._judge_near(when)
        return (entry[3] for entry in self._executed or () if self._entry_in_force(entry, when))

    def _judge_near(self, when: dt.date) -> None:
        """Read at once the contracts to be judged on the resource for ``when`` (once per day)."""
        if when in self._judged_days:
            return
        day = _day(when)
        before, after = day - MARGIN, day + 2 * MARGIN
        self._exact_many(res_id for res_id, low, high, _ in self._executed or ()
                         if low < after and high > before and (low.year < 1000 or low >= before or high <= after))
        self._judged_days.add(when)

    def _entry_in_force(self, entry: tuple[str, dt.datetime, dt.datetime, ContractView], when: dt.date) -> bool:
        res_id, low, high, _ = entry
        bounds = self._bounds.get(when)
        if bounds is None:
            day = dt.datetime.combine(when, dt.time())
            bounds = self._bounds[when] = (day - MARGIN, day + 2 * MARGIN)
        before, after = bounds
        if low >= after or high <= before:
            return False  # starts after or ends before ``when`` in any time zone
        if low.year < 1000 or low >= before or high <= after:
            return self._exact(res_id).in_force_on(when)  # near a boundary, or no start: judged on the resource
        return True

    def _in_force(self, when: dt.date) -> dict[str, ContractView]:
        found: dict[str, ContractView] = {}
        for patient in self._by_subject or ():
            view = self.contract_in_force(patient, when)
            if view is not None:
                found[patient] = view
        return found

    def renewals(self, period: Period) -> Iterator[tuple[ContractView, bool]]:
        """Executed contracts whose ``applies.end`` (as written) falls in ``period``, from the
        index's end instant; within a day of the period's ends, judged on the resource."""
        if self._executed is None:
            self._load_contracts()
        renewed = self._renewed if self._renewed is not None else self._load_renewed()
        start, end = _day(period.start), _day(period.end)
        self._exact_many(res_id for res_id, _, high, _ in self._executed or ()
                         if start - MARGIN <= high < end + 2 * MARGIN and not start + MARGIN <= high < end)
        for res_id, _, high, view in self._executed or ():
            if high < start - MARGIN or high >= end + 2 * MARGIN:
                continue  # no end (the index's far future), or it ends far outside the period
            if not start + MARGIN <= high < end and not period.contains(self._exact(res_id).end):
                continue
            yield view, view.ref in renewed

    _by_subject: dict[str, list[tuple[str, dt.datetime, dt.datetime, ContractView]]] | None = None
    _executed: list[tuple[str, dt.datetime, dt.datetime, ContractView]] | None = None
    _renewed: set[str] | None = None

    def _load_contracts(self) -> None:
        """Every executed family-doctor contract with its ``applies`` range, subjects, team,
        institution, packages and household: three statements, kept as tuples in id order."""
        s = self._session
        kind, status, applies, ref = TOKEN.alias(), TOKEN.alias(), DATE.alias(), REF.alias()
        # driven from the executed status rows, the type and the current rows as IN lists
        # (each read once; correlated EXISTS made SQLite probe the type index per contract)
        executed = select(status.c.res_id).where(
            status.c.res_type == "Contract", status.c.param == "status", status.c.code == "executed",
            status.c.res_id.in_(_family_doctor(kind)),
            status.c.res_id.in_(select(R.c.res_id).where(R.c.res_type == "Contract", R.c.deleted.is_(False))))
        if self._only is not None:  # the contracts naming one of the residents asked about
            naming = REF.alias()
            named = select(naming.c.res_id).where(naming.c.res_type == "Contract", naming.c.param == "subject",
                                                  naming.c.target_type == "Patient",
                                                  naming.c.target_id.in_(self._only))
            executed = executed.where(status.c.res_id.in_(named))
        # the database's order of ids, as the full snapshot's scan
        ids = list(dict.fromkeys(s.execute(executed.order_by(status.c.res_id)).scalars()))
        owned = () if self._only is None else (applies.c.res_id.in_(executed),)
        ranges: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        for res_id, low, high in s.execute(select(applies.c.res_id, applies.c.low, applies.c.high).where(
                applies.c.res_type == "Contract", applies.c.param == "applies", *owned)):
            ranges[res_id] = (_instant(low), _instant(high))
        parts: dict[str, dict[str, list[str]]] = {i: {} for i in ids if i in ranges}
        rows = s.execute(select(ref.c.id, ref.c.res_id, ref.c.param, ref.c.target_type, ref.c.target_id, ref.c.url)
                         .where(ref.c.res_type == "Contract",
                                ref.c.param.in_(("subject", "care-team", "authority", "package", "household")),
                                *(() if self._only is None else (ref.c.res_id.in_(executed),)))
                         ).all()
        for _, res_id, param, target_type, target_id, url in sorted(rows, key=_row_id):
            text = _text(target_type, target_id, url)
            if text and res_id in parts:
                parts[res_id].setdefault(param, []).append(self._name(text))
        by_subject: dict[str, list[tuple[str, dt.datetime, dt.datetime, ContractView]]] = {}
        executed_views: list[tuple[str, dt.datetime, dt.datetime, ContractView]] = []
        for res_id, p in parts.items():
            view = ContractView(
                ref=f"Contract/{res_id}", status="executed", start=None, end=None, subjects=p.get("subject", []),
                team=_first(p.get("care-team")), institution=_first(p.get("authority")),
                household=_first(p.get("household")), packages=p.get("package", []), renews=None)
            entry = (res_id, *ranges[res_id], view)
            executed_views.append(entry)
            for subject in dict.fromkeys(view.subjects):
                by_subject.setdefault(subject, []).append(entry)
        self._by_subject, self._executed = by_subject, executed_views

    def _load_renewed(self) -> set[str]:
        """The contracts a family-doctor contract executed or offered renews (``Contract/id``)."""
        s = self._session
        kind, status, renews = TOKEN.alias(), TOKEN.alias(), REF.alias()
        successors = select(status.c.res_id).where(
            status.c.res_type == "Contract", status.c.param == "status", status.c.code.in_(("executed", "offered")))
        rows = s.execute(select(renews.c.id, renews.c.res_id, renews.c.target_type, renews.c.target_id, renews.c.url)
                         .where(renews.c.res_type == "Contract", renews.c.param == "renews",
                                renews.c.res_id.in_(successors), renews.c.res_id.in_(_family_doctor(kind)))).all()
        first: dict[str, str] = {}  # successor → the contract it renews (its first renews extension)
        for _, res_id, target_type, target_id, url in sorted(rows, key=_row_id):
            text = _text(target_type, target_id, url)
            if text:
                first.setdefault(res_id, text)
        self._renewed = set(first.values())
        return self._renewed

    def _exact_many(self, res_ids) -> None:
        """Judge the contracts ``res_ids`` not judged yet on their ``status`` and ``applies`` as
        written (read from the stored JSON by the database, a chunk per statement: a district has
        thousands ending on a year's last day, and reading each whole cost a second at 20,000)."""
        missing = sorted({i for i in res_ids if i not in self._exact_views})
        content = R.c.content
        status, start, end = (content[("status",)].as_string(), content[("applies", "start")].as_string(),
                              content[("applies", "end")].as_string())
        for i in range(0, len(missing), CHUNK):
            for res_id, state, low, high in self._session.execute(select(R.c.res_id, status, start, end).where(
                    R.c.res_type == "Contract", R.c.res_id.in_(missing[i:i + CHUNK]))):
                self._exact_views[res_id] = ContractView(
                    ref=f"Contract/{res_id}", status=state or "", start=el.day_of(low), end=el.day_of(high),
                    subjects=[], team=None, institution=None, household=None, packages=[], renews=None)

    def _exact(self, res_id: str) -> ContractView:
        """The contract's status and ``applies`` days as written (only those: what the index cannot
        decide near a boundary)."""
        if res_id not in self._exact_views:
            self._exact_many([res_id])
        return self._exact_views[res_id]

    # --- encounters: counted per period in SQL, never kept --------------------------------------
    def follow_ups(self, period: Period) -> dict[str, int]:
        if not self._encounter_index:
            return super().follow_ups(period)
        d, subject = DATE.alias(), REF.alias()
        kind, item = TOKEN.alias(), TOKEN.alias()
        follow_up = or_(d.c.res_id.in_(select(kind.c.res_id).where(
                            kind.c.res_type == "Encounter", kind.c.param == "type",
                            kind.c.system == jn.FOLLOW_UP_METHOD, kind.c.code.is_not(None))),
                        d.c.res_id.in_(select(item.c.res_id).where(
                            item.c.res_type == "Encounter", item.c.param == "service-item")))
        query = (select(subject.c.target_type, subject.c.target_id, subject.c.url, func.count())
                 .select_from(d.join(subject, and_(subject.c.res_type == "Encounter", subject.c.param == "subject",
                                                   subject.c.res_id == d.c.res_id)))
                 .where(*self._certainly_in(d, period), follow_up)
                 .group_by(subject.c.target_type, subject.c.target_id, subject.c.url))
        counts: dict[str, int] = {}
        for target_type, target_id, url, count in self._session.execute(query):
            text = _text(target_type, target_id, url)
            if text:
                counts[text] = counts.get(text, 0) + int(count)
        return follow_up_counts(self._near_ends(period), period, counts)

    def services(self, period: Period) -> dict[tuple[str, str], int]:
        if not self._encounter_index:
            return super().services(period)
        d, contract, item = DATE.alias(), REF.alias(), TOKEN.alias()
        query = (select(contract.c.target_type, contract.c.target_id, contract.c.url, item.c.code, func.count())
                 .select_from(d.join(contract, and_(contract.c.res_type == "Encounter", contract.c.param == "contract",
                                                    contract.c.res_id == d.c.res_id))
                              .join(item, and_(item.c.res_type == "Encounter", item.c.param == "service-item",
                                               item.c.res_id == d.c.res_id, item.c.system == jn.SERVICE_ITEM,
                                               item.c.code.is_not(None))))
                 .where(*self._certainly_in(d, period))
                 .group_by(contract.c.target_type, contract.c.target_id, contract.c.url, item.c.code))
        counts: dict[tuple[str, str], int] = {}
        for target_type, target_id, url, code, count in self._session.execute(query):
            text = _text(target_type, target_id, url)
            if text:
                counts[(text, code)] = counts.get((text, code), 0) + int(count)
        return service_counts(self._near_ends(period), period, counts)

    @staticmethod
    def _finished(d):
        status = TOKEN.alias()
        return d.c.res_id.in_(select(status.c.res_id).where(
            status.c.res_type == "Encounter", status.c.param == "status", status.c.code == "finished"))

    def _certainly_in(self, d, period: Period) -> tuple:
        """Finished encounters whose start (UTC) is more than a day inside ``period``: their
        start day as written is in it whatever their offset."""
        return (d.c.res_type == "Encounter", d.c.param == "date", d.c.low >= _day(period.start) + MARGIN,
                d.c.low < _day(period.end), self._finished(d))

    def _near_ends(self, period: Period) -> Iterator[dict]:
        """The finished encounters starting within a day of the period's ends, read whole."""
        d = DATE.alias()
        start, end = _day(period.start), _day(period.end)
        near = and_(d.c.low >= start - MARGIN, d.c.low < end + 2 * MARGIN)
        if start + MARGIN < end:  # else every start in the window is near an end
            near = and_(near, or_(d.c.low < start + MARGIN, d.c.low >= end))
        ids = sorted(set(self._session.execute(select(d.c.res_id).where(
            d.c.res_type == "Encounter", d.c.param == "date", near, self._finished(d))).scalars()))
        for i in range(0, len(ids), CHUNK):
            yield from self._session.execute(select(R.c.content).where(
                R.c.res_type == "Encounter", R.c.deleted.is_(False), R.c.res_id.in_(ids[i:i + CHUNK]))).scalars()


def _among(column, ids: list[str] | None) -> tuple:
    return () if ids is None else (column.in_(ids),)


def _family_doctor(kind):
    return select(kind.c.res_id).where(
        kind.c.res_type == "Contract", kind.c.param == "type", kind.c.system == FAMILY_DOCTOR_CONTRACT[0],
        kind.c.code == FAMILY_DOCTOR_CONTRACT[1])


def _day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _row_id(row) -> int:
    return row[0]


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _instant(value: object) -> dt.datetime:
    """A date column as SQLAlchemy returns it (a datetime; text on some SQLite reads)."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))

