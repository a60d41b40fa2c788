"""``$evaluate-measure`` (R4 Measure-evaluate-measure) for the Jiayi measures.

``Measure/[id]/$evaluate-measure`` and ``Measure/$evaluate-measure?measure=URL`` with the R4
parameters periodStart, periodEnd (required), reportType (summary | subject-list |
individual), subject; plus ``residentPopulation`` (integer), the number of residents of the
area when it is known from outside (census, 户籍), which replaces the coverage denominator
counted from the Patients the server holds.  The MeasureReport is returned, not stored.

A caller limited by relationship (a family doctor, a public-health officer, a resident) gets the
measure over the residents within their reach: members about others are left out before counting
(:mod:`.reach`), and an individual report about a resident out of reach is refused (403).

A summary asked with ``Cache-Control: max-age=N`` may be one evaluated up to N seconds ago, kept
and refreshed in the background (:mod:`.kept`; the console's dashboard asks so); with
``only-if-cached`` as well, one not kept is answered 504 at once and evaluated in the background.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial

from fhir_server.auth.access import Reach
from fhir_server.core.errors import BadRequest, Forbidden, Issue, NotFound, Unprocessable
from fhir_server.interactions.common import current_or_raise
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.parameters import OperationInput
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import UnitOfWork

from . import aggregate
from .catalog import BY_URL, MeasureRow
from .indicators import INDICATORS, Member
from .kept import KeptReports, NotKept, age_header
from .reach import reachable, within_reach
from .report import measure_report
from .shared import with_district
from .snapshot import DistrictSnapshot, Period

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"
REPORT_TYPES = ("summary", "subject-list", "individual")


def evaluate_measure(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None,
                     kept: KeptReports | None = None) -> FhirResponse:
    params = OperationInput(request)
    row = _measure_row(uow, params, res_id)
    period = Period(_date(params, "periodStart"), _date(params, "periodEnd"))
    if period.end < period.start:
        raise BadRequest("periodEnd is before periodStart", expression=["periodEnd"])
    report_type = str(params.value("reportType", "summary"))
    if report_type not in REPORT_TYPES:
        raise BadRequest(f"reportType must be one of {', '.join(REPORT_TYPES)}", expression=["reportType"])
    subject = _subject(params)
    if report_type == "individual" and subject is None:
        raise BadRequest("reportType=individual needs a subject (Patient/id)", code="required",
                         expression=["subject"])
    population = _positive_int(params, "residentPopulation")
    reach = getattr(request.grant, "reach", None)
    if reach is not None and subject is not None and not reachable(uow, reach, {subject}):
        raise Forbidden(f"{subject} is not among the records this user may see")
    if kept is not None and (request.max_age is not None or request.only_if_cached) and report_type == "summary" \
            and subject is None:
        max_age = float("inf") if request.max_age is None else request.max_age
        if request.only_if_cached:
            hit = kept.kept_only(row, period, resident_population=population, reach=reach, max_age=max_age)
            if hit is None:
                raise NotKept()
            report, age = hit
        else:
            report, age = kept.answer(uow, row, period, resident_population=population, reach=reach,
                                      max_age=max_age)
        return FhirResponse(200, report, headers=age_header(age))
    report = evaluate(uow, row, period, report_type=report_type, subject=subject, resident_population=population,
                      reach=reach)
    return FhirResponse(200, report)


def evaluate(uow: UnitOfWork, row: MeasureRow, period: Period, *, report_type: str = "summary",
             subject: str | None = None, resident_population: int | None = None,
             snapshot: DistrictSnapshot | None = None, reach: Reach | None = None) -> dict:
    """The MeasureReport of ``row`` over ``period`` (also used by ``jiayi kpi``); with ``reach``,
    over the residents it covers only."""
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def report(district: DistrictSnapshot) -> dict:
        counted = aggregate.members(district, row.indicator, period, reach=reach,
                                    listed=report_type == "subject-list", subject=subject)
        members: Iterable[Member]
        if counted is not None:  # counted in SQL, the reach a condition of the statement
            members = counted
        else:
            members = INDICATORS[row.indicator](district, period)
            if reach is not None:
                members = within_reach(uow, reach, members)
        return measure_report(row, members, period, report_type=report_type, subject=subject,
                              resident_population=resident_population, generated=generated)

    return report(snapshot) if snapshot is not None else with_district(uow, report)


def _measure_row(uow: UnitOfWork, params: OperationInput, res_id: str | None) -> MeasureRow:
    if res_id is not None:
        measure = current_or_raise(uow, "Measure", res_id).content or {}
        url = measure.get("url")
    else:
        url = params.value("measure")
        if not url:
            raise BadRequest("Measure/$evaluate-measure needs the 'measure' parameter (a canonical URL)",
                             code="required", expression=["measure"])
        url = str(url).split("|")[0]
    row = BY_URL.get(str(url))
    if row is None:
        if res_id is None:
            raise NotFound(f"No measure with url '{url}'", expression=["measure"])
        raise Unprocessable([Issue("not-supported", f"Measure/{res_id} ({url}) has no evaluator: Jiayi evaluates "
                                   "the assessment measures of its implementation guide (Measure/jiayi-*)")])
    return row


def _date(params: OperationInput, name: str) -> dt.date:
    value = params.value(name)
    if value is None:
        raise BadRequest(f"Parameter '{name}' is required", code="required", expression=[name])
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadRequest(f"Parameter '{name}' is not a date: {value!r}", expression=[name]) from None


def _subject(params: OperationInput) -> str | None:
    value = params.value("subject")
    if isinstance(value, dict):
        value = value.get("reference")
    if value is None:
        return None
    value = str(value)
    if not value.startswith("Patient/") or len(value) <= len("Patient/"):
        raise BadRequest(f"subject must be a Patient reference (Patient/id), not {value!r}", expression=["subject"])
    return value


def _positive_int(params: OperationInput, name: str) -> int | None:
    value = params.value(name)
    if value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise BadRequest(f"Parameter '{name}' must be a positive integer", expression=[name]) from None
    if number < 1:
        raise BadRequest(f"Parameter '{name}' must be a positive integer", expression=[name])
    return number


def operations(kept: KeptReports | None = None) -> list[Operation]:
    """``$evaluate-measure``; with ``kept``, summaries asked with ``Cache-Control: max-age`` come from it."""
    handler = evaluate_measure if kept is None else partial(evaluate_measure, kept=kept)
    return [Operation("evaluate-measure", handler, DEFINITION, type_level=True, instance=True,
                      resource_types=("Measure",))]


OPERATIONS = operations()
