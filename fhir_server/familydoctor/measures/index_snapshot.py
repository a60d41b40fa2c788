"""The district read from the search index tables, for the SQL repository: what the coverage-like
indicators ask of every resident and every contract, without loading a resource.

Residents (active, not deceased, managing organisation, key populations) and the contracts in
force on a day (with their subjects, team and institution) are a few set-wise statements over
``search_token``, ``search_reference`` and ``search_date``; the indicators and the report are
the same code as for the full snapshot.  The few resources the index cannot decide exactly are
read whole and judged as the snapshot judges them: Patients the index calls deceased (a
``deceasedDateTime`` counts as alive there), and contracts whose ``applies`` starts or ends
within a day of the date asked (the index keeps instants in UTC, the snapshot the day as
written) or has no start.  Everything else (encounters, referrals, responses...) is read
per type on first use, as by :class:`DistrictSnapshot`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.familydoctor import names as n
from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

from .snapshot import FAMILY_DOCTOR_CONTRACT, ContractView, DistrictSnapshot, _contract_view

TOKEN, REF, DATE = INDEX_TABLES["token"], INDEX_TABLES["reference"], INDEX_TABLES["date"]
R = ResourceRow.__table__
MARGIN = dt.timedelta(days=1)  # more than any UTC offset: outside it the UTC instant and the written day agree
# (type, parameter) the index must have for this snapshot to answer like the full one
NEEDED = (("Patient", "active"), ("Patient", "deceased"), ("Patient", "organization"), ("Patient", "key-population"),
          ("Contract", "type"), ("Contract", "status"), ("Contract", "applies"), ("Contract", "subject"),
          ("Contract", "care-team"), ("Contract", "authority"))


def index_snapshot(uow) -> DistrictSnapshot:
    """An :class:`IndexSnapshot` when ``uow`` reads a SQL database whose search parameters
    cover what it needs, else the full :class:`DistrictSnapshot`."""
    index_session = getattr(uow, "index_session", None)
    if index_session is None:
        return DistrictSnapshot.load(uow)
    registry = uow.search_params()
    if any(registry.get(t, code) is None for t, code in NEEDED):
        return DistrictSnapshot.load(uow)
    return IndexSnapshot(uow, index_session())


def _text(target_type: str | None, target_id: str | None, url: str | None) -> str | None:
    return f"{target_type}/{target_id}" if target_type and target_id else url


class IndexSnapshot(DistrictSnapshot):
    def __init__(self, uow, session: Session) -> None:
        super().__init__(uow)
        self._session = session
        self._residents: dict[str, tuple[str | None, list[str]]] | None = None  # ref → (institution, key populations)
        self._active: list[str] | None = None
        self._bounds: dict[dt.date, tuple[dt.datetime, dt.datetime]] = {}  # day → (day - MARGIN, day + 2 MARGIN)

    def bind(self, uow) -> None:
        super().bind(uow)
        self._session = uow.index_session() if uow is not None else cast(Session, None)

    # --- residents ------------------------------------------------------------------------
    def _load_residents(self) -> None:
        s = self._session
        ids = s.execute(select(R.c.res_id).where(R.c.res_type == "Patient", R.c.deleted.is_(False))
                        .order_by(R.c.res_id)).scalars().all()
        inactive = set(s.execute(select(TOKEN.c.res_id).where(
            TOKEN.c.res_type == "Patient", TOKEN.c.param == "active", TOKEN.c.code == "false")).scalars())
        deceased = set(s.execute(select(TOKEN.c.res_id).where(
            TOKEN.c.res_type == "Patient", TOKEN.c.param == "deceased", TOKEN.c.code == "true")).scalars())
        if deceased:  # judged on the resource: only deceasedBoolean takes a resident out
            contents = s.execute(select(R.c.res_id, R.c.content).where(
                R.c.res_type == "Patient", R.c.res_id.in_(sorted(deceased)))).all()
            deceased = {i for i, content in contents if (content or {}).get("deceasedBoolean")}
        residents: dict[str, tuple[str | None, list[str]]] = {f"Patient/{i}": (None, []) for i in ids}
        # in index-row order (the order of the resource's elements), sorted here: an ORDER BY
        # would let SQLite walk the whole table by rowid instead of the parameter's index
        organizations = sorted(s.execute(select(REF.c.id, REF.c.res_id, REF.c.target_type, REF.c.target_id, REF.c.url)
                                         .where(REF.c.res_type == "Patient", REF.c.param == "organization")).all(),
                               key=_row_id, reverse=True)
        for _, res_id, target_type, target_id, url in organizations:
            ref = f"Patient/{res_id}"
            if ref in residents:  # the first managingOrganization (rows read last to first)
                residents[ref] = (_text(target_type, target_id, url), residents[ref][1])
        for _, res_id, code in sorted(s.execute(select(TOKEN.c.id, TOKEN.c.res_id, TOKEN.c.code).where(
                TOKEN.c.res_type == "Patient", TOKEN.c.param == "key-population",
                TOKEN.c.system == n.KEY_POPULATION_CS)).all(), key=_row_id):
            found = residents.get(f"Patient/{res_id}")
            if found is not None and code:
                found[1].append(code)
        self._residents = residents
        self._active = [f"Patient/{i}" for i in ids if i not in inactive and i not in deceased]

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

    # --- contracts in force -----------------------------------------------------------------
    def contract_in_force(self, patient: str, when: dt.date) -> ContractView | None:
        """The first (by id) family-doctor contract of ``patient`` in force on ``when``, as the
        full snapshot finds it, from the patient's own contracts."""
        if self._by_subject is None:
            self._load_contracts()
        bounds = self._bounds.get(when)
        if bounds is None:
            day = dt.datetime.combine(when, dt.time())
            bounds = self._bounds[when] = (day - MARGIN, day + 2 * MARGIN)
        before, after = bounds
        for res_id, low, high, view in (self._by_subject or {}).get(patient, ()):
            if low >= after or high <= before:
                continue  # starts after or ends before ``when`` in any time zone
            if low.year < 1000 or low >= before or high <= after:
                if self._exact(res_id).in_force_on(when):  # near a boundary, or no start: judged on the resource
                    return view
                continue
            return view
        return None

    def _in_force(self, when: dt.date) -> dict[str, ContractView]:
        found: dict[str, ContractView] = {}
        for patient in self._by_subject or ():
            view = self.contract_in_force(patient, when)
            if view is not None:
                found[patient] = view
        return found

    _by_subject: dict[str, list[tuple[str, dt.datetime, dt.datetime, ContractView]]] | None = None

    def _load_contracts(self) -> None:
        """Every executed family-doctor contract with its ``applies`` range, subjects, team and
        institution: three statements, kept as tuples per subject."""
        s = self._session
        kind, status, applies, ref = TOKEN.alias(), TOKEN.alias(), DATE.alias(), REF.alias()
        # driven from the executed status rows, the type and the current rows as IN lists
        # (each read once; correlated EXISTS made SQLite probe the type index per contract)
        executed = select(status.c.res_id).where(
            status.c.res_type == "Contract", status.c.param == "status", status.c.code == "executed",
            status.c.res_id.in_(select(kind.c.res_id).where(
                kind.c.res_type == "Contract", kind.c.param == "type", kind.c.system == FAMILY_DOCTOR_CONTRACT[0],
                kind.c.code == FAMILY_DOCTOR_CONTRACT[1])),
            status.c.res_id.in_(select(R.c.res_id).where(R.c.res_type == "Contract", R.c.deleted.is_(False))))
        ids = set(s.execute(executed).scalars())
        ranges = {res_id: (_instant(low), _instant(high)) for res_id, low, high in s.execute(
            select(applies.c.res_id, applies.c.low, applies.c.high).where(
                applies.c.res_type == "Contract", applies.c.param == "applies")) if res_id in ids}
        parts: dict[str, dict[str, list[str]]] = {i: {} for i in ranges}
        rows = s.execute(select(ref.c.id, ref.c.res_id, ref.c.param, ref.c.target_type, ref.c.target_id, ref.c.url)
                         .where(ref.c.res_type == "Contract",
                                ref.c.param.in_(("subject", "care-team", "authority")))).all()
        for _, res_id, param, target_type, target_id, url in sorted(rows, key=_row_id):
            text = _text(target_type, target_id, url)
            if text and res_id in parts:
                parts[res_id].setdefault(param, []).append(text)
        by_subject: dict[str, list[tuple[str, dt.datetime, dt.datetime, ContractView]]] = {}
        for res_id in sorted(ranges):
            p = parts[res_id]
            view = ContractView(
                ref=f"Contract/{res_id}", status="executed", start=None, end=None, subjects=p.get("subject", []),
                team=_first(p.get("care-team")), institution=_first(p.get("authority")),
                household=None, packages=[], renews=None)
            for subject in dict.fromkeys(view.subjects):
                by_subject.setdefault(subject, []).append((res_id, *ranges[res_id], view))
        self._by_subject = by_subject
        self._exact_views: dict[str, ContractView] = {}

    def _exact(self, res_id: str) -> ContractView:
        view = self._exact_views.get(res_id)
        if view is None:
            content = self._session.execute(select(R.c.content).where(
                R.c.res_type == "Contract", R.c.res_id == res_id)).scalar_one()
            view = self._exact_views[res_id] = _contract_view(content)
        return view


def _row_id(row) -> int:
    return row[0]


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _instant(value: object) -> dt.datetime:
    """A date column as SQLAlchemy returns it (a datetime; text on some SQLite reads)."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))

