"""Which rows of one resource type an export reads, as SQL on the resource table.

The conditions, all in one statement per page: the type, not deleted, changed after ``_since``
and not after the job's ``transactionTime`` (what changes during the export goes to the next
``_since`` export, as the IG intends); the ``_typeFilter`` queries of the type, parsed and
compiled by the search engine (several are OR'ed); the token's reach and scope restrictions,
the same SQL a search gets (:mod:`fhir_server.search.sql.reach`); and at Patient and Group
level, membership in the Patient compartment of the selected patients.

Pages are read in ``res_id`` order after the last id written (the primary key), so a page
costs the same at the end of a type as at its start, and a resumed job continues exactly after
its checkpoint.  The content comes back as the stored JSON text, which is already one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import parse_qsl, quote

from sqlalchemy import ColumnElement, Text, and_, cast, exists, false, or_, select, true, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from fhir_server.auth.access import Grant
from fhir_server.bulk.kickoff import GROUP, SYSTEM, ExportRequest
from fhir_server.search import parse_search
from fhir_server.search.registry import ParamRegistry, compartment_params
from fhir_server.search.sql.builder import filters
from fhir_server.search.sql.reach import reach_condition, team_patients
from fhir_server.storage.index_tables import INDEX_TABLES
from fhir_server.storage.models import ResourceRow

R = ResourceRow.__table__
REF = INDEX_TABLES["reference"]


def patient_compartment_types() -> list[str]:
    return ["Patient", *sorted(t for t in compartment_params("Patient") if t != "Patient")]


def present_types(session: Session) -> list[str]:
    """The types that have at least one current resource (a system export's default ``_type``)."""
    return sorted(session.scalars(select(R.c.res_type).where(R.c.deleted.is_(False)).distinct()))


def conditions(request: ExportRequest, res_type: str, grant: Grant, registry: ParamRegistry | None,
               transaction_time: datetime) -> list[ColumnElement]:
    where: list[ColumnElement] = [R.c.res_type == res_type, R.c.deleted.is_(False),
                                  R.c.last_updated <= transaction_time]
    if request.since_time is not None:
        where.append(R.c.last_updated > request.since_time)
    queries = [query for t, query in request.type_filters if t == res_type]
    if queries:
        where.append(or_(*(and_(*_search(res_type, query, registry)) for query in queries)))
    if grant.reach is not None:
        where.append(reach_condition(grant.reach, res_type))
    if grant.restrictions:
        where.append(or_(*(and_(*filters(res_type, (), parse_search(res_type, list(r)).where))
                           for r in grant.restrictions)))
    if request.level != SYSTEM:  # a Group's members, even none; else the patient parameter, or every Patient
        chosen: Sequence[str] | Select | None = request.patients if request.patients or request.level == GROUP else None
        if request.cohort:
            chosen = cohort(request.cohort, request.patients, registry, transaction_time)
        where.append(in_compartment(res_type, chosen))
    return where


def page(session: Session, where: list[ColumnElement], after: str | None, size: int) -> list[tuple[str, str]]:
    """Up to ``size`` (id, JSON text) of the matching rows after ``after``, in id order.

    Two statements: the page's ids (the primary key in order, no document read), then the
    documents of the key range they span, put in order here.  Sorting the rows with their
    documents made PostgreSQL sort (and spill to disk) every matching document of the type for
    each page."""
    connection = session.connection()
    ids = select(R.c.res_id).where(*where)
    if after is not None:
        ids = ids.where(R.c.res_id > after)
    chosen = [row[0] for row in connection.execute(ids.order_by(R.c.res_id).limit(size))]
    if not chosen:
        return []
    documents = select(R.c.res_id, cast(R.c.content, Text)).where(*where, R.c.res_id <= chosen[-1])
    if after is not None:
        documents = documents.where(R.c.res_id > after)
    return sorted((row[0], row[1]) for row in connection.execute(documents))


def cohort(characteristics: Sequence[tuple[str, str]], narrowed: Sequence[str], registry: ParamRegistry | None,
           now: datetime) -> Select:
    """The Patients a Group by characteristic stands for, at ``now``: every characteristic holds
    (a team's contracted residents, a key population), narrowed to ``narrowed`` when given."""
    where: list[ColumnElement] = [R.c.res_type == "Patient", R.c.deleted.is_(False)]
    for name, value in characteristics:
        if name == "care-team":
            where.append(R.c.res_id.in_(team_patients([value], now)))
        else:
            where.extend(_search("Patient", f"{name}={quote(value, safe='')}", registry))
    if narrowed:
        where.append(R.c.res_id.in_(narrowed))
    return select(R.c.res_id).where(*where)


def in_compartment(res_type: str, patients: Sequence[str] | Select | None) -> ColumnElement:
    """In the Patient compartment of ``patients`` (None: of any Patient)."""
    if res_type == "Patient":
        return R.c.res_id.in_(patients) if patients is not None else true()
    params = compartment_params("Patient").get(res_type)
    if not params:
        return false()
    ref = REF.alias()
    names = [ref.c.res_type == R.c.res_type, ref.c.res_id == R.c.res_id,
             tuple_(ref.c.res_type, ref.c.param).in_([(res_type, p) for p in params]), ref.c.target_type == "Patient"]
    if patients is not None:
        names.append(ref.c.target_id.in_(patients))
    return exists().where(*names)


def _search(res_type: str, query: str, registry: ParamRegistry | None) -> list[ColumnElement]:
    parsed = parse_search(res_type, parse_qsl(query, keep_blank_values=True), registry=registry)
    return filters(res_type, (), parsed.where)
