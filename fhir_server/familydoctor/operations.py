"""The domain operations of Appendix A: each takes its Parameters apart (:mod:`.params`), calls
one service and shapes the response; the table at the end declares them as data (STYLE habit 6).
The only module of the domain, with :mod:`.params`, that sees the request and response types."""

from __future__ import annotations

from datetime import datetime

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core.errors import BadRequest, Issue
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.params import Params, ok, parameters
from fhir_server.familydoctor.services import (
    booking,
    care_plans,
    family_doctor,
    fulfilment,
    lifecycle,
    two_card,
)
from fhir_server.interactions import access
from fhir_server.interactions.common import stored_response
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.parameters import OperationInput
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import UnitOfWork

OD = "https://jiayi.dev/fhir/OperationDefinition/"
REQUESTERS = ("Patient", "RelatedPerson", "Practitioner", "PractitionerRole", "Organization")


def terminate(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = Params(request)
    reason = params.string("reason", required=True) or ""
    day, requested_by = params.date("date"), params.reference("requestedBy", REQUESTERS)
    saved = lifecycle.terminate(uow, res_id or "", reason, day, requested_by)
    return stored_response(saved, 200, request.base_url)


def renew(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = Params(request)
    years = params.integer("years", 1, 3)
    packages, teams = params.references("package", "PlanDefinition"), params.references("careTeam", "CareTeam")
    saved = lifecycle.renew(uow, res_id or "", years, packages, teams)
    return stored_response(saved, 201, request.base_url, location=True)


def renew_due(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = Params(request)
    as_of = params.date("asOf")
    window = params.integer("windowDays", 0, 366, default=30) or 0
    renewed, skipped = lifecycle.renew_all_due(uow, as_of or r.today(uow.now()), window)
    parts: list[dict] = [{"name": "renewed", "valueReference": {"reference": ref}} for ref in renewed]
    parts.append({"name": "count", "valueInteger": len(renewed)})
    parts += [{"name": "skipped", "part": [{"name": "contract", "valueReference": {"reference": ref}},
                                           {"name": "reason", "valueString": why}]} for ref, why in skipped]
    return ok(parameters(*parts))


def contract_fulfilment(uow: UnitOfWork, request: FhirRequest, res_type: str | None,
                        res_id: str | None) -> FhirResponse:
    found = fulfilment.fulfilment(uow, res_id or "", Params(request).date("asOf"))
    items = [{"name": "item", "part": [
        {"name": "code", "valueCoding": {"system": jn.SERVICE_ITEM, "code": code}},
        {"name": "due", "valueInteger": found.due[code]},
        {"name": "delivered", "valueInteger": found.delivered.get(code, 0)}]} for code in sorted(found.due)]
    period = {"name": "period", "valuePeriod": {"start": found.first.isoformat(), "end": found.last.isoformat()}}
    return ok(parameters(period, *items))


def patient_family_doctor(uow: UnitOfWork, request: FhirRequest, res_type: str | None,
                          res_id: str | None) -> FhirResponse:
    named = family_doctor.family_doctor(uow, res_id or "", Params(request).date("asOf"))
    refs = [{"name": name, "valueReference": {"reference": ref}} for name, ref, _ in named]
    resources = [{"name": "resource", "resource": res} for _, _, res in named if res]
    return ok(parameters(*refs, *resources))


def record_service(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    saved, created = two_card.record_service(uow, card_event(Params(request)))
    return stored_response(saved, 201, request.base_url, location=True) if created else \
        stored_response(saved, 200, request.base_url)


def card_event(params: Params) -> dict:
    """A two-card event: both cards, the time, the items, where and on which terminal."""
    card_type = params.string("residentCardType", required=True)
    event = {"eventId": params.string("eventId", required=True), "cardType": card_type,
             "cardNumber": params.string("residentCardNumber", required=True),
             "doctorCard": params.string("doctorCardNumber", required=True),
             "time": params.datetime("time", required=True), "items": params.strings("item"),
             "latitude": params.decimal("latitude", -90, 90), "longitude": params.decimal("longitude", -180, 180),
             "terminal": params.string("terminal")}
    problems = []
    if card_type not in jn.CARD_SYSTEMS:
        problems.append(Issue("code-invalid", f"residentCardType '{card_type}' is not a card-type code "
                              f"({', '.join(jn.CARD_SYSTEMS)})", expression=("residentCardType",)))
    if not event["items"]:
        problems.append(Issue("required", "at least one 'item' (a service-item code) is required",
                              expression=("item",)))
    if (event["latitude"] is None) != (event["longitude"] is None):
        problems.append(Issue("required", "latitude and longitude come together", expression=("latitude",)))
    if len(str(event["eventId"])) > 256:
        problems.append(Issue("value", "eventId is at most 256 characters", expression=("eventId",)))
    if problems:
        raise BadRequest(problems)
    return event


def book(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    value = OperationInput(request).value("notBefore")
    not_before = _moment(value) if value is not None else None
    stored = booking.book(uow, res_id or "", not_before)
    return stored_response(stored, 201, request.base_url, location=True)


def _moment(value: object) -> datetime:
    parsed = el.moment(value)
    if parsed is None:
        raise BadRequest(f"Parameter 'notBefore' must be a FHIR dateTime, not '{value}'", expression=["notBefore"])
    return parsed


def apply(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    persist = _boolean(params.value("persist", False))
    if persist and request.method != "POST":
        raise BadRequest("persist=true stores the plan: invoke $apply with POST", expression=["persist"])
    practitioner = _reference(params, "practitioner", "Practitioner")
    author = ("practitioner", practitioner) if practitioner else None
    if author is None and (organization := _reference(params, "organization", "Organization")):
        author = ("organization", organization)
    wanted = care_plans.PlanFor(_reference(params, "subject", "Patient", required=True) or "",
                                _reference(params, "contract", "Contract"),
                                _reference(params, "encounter", "Encounter"), author)
    _within_reach(uow, request, wanted.subject, wanted.contract, wanted.encounter)
    applied = care_plans.apply(uow, res_id or "", wanted, persist, request.base_url)
    if applied.stored is None:
        return ok(applied.plan)
    return stored_response(applied.stored, 201 if applied.created else 200, request.base_url, location=applied.created)


def _within_reach(uow: UnitOfWork, request: FhirRequest, *references: str | None) -> None:
    """The resident (and contract, encounter) a plan is made for must be one the caller may see:
    a plan, even unsaved, shows their contract, team and packages (SPEC §6)."""
    if request.grant is None:
        return
    for reference in references:
        if reference:
            kind, _, res_id = reference.partition("/")
            access.require_visible(uow, request.grant, kind, res_id)


def _reference(params: OperationInput, name: str, kind: str, required: bool = False) -> str | None:
    """``kind/id`` of a reference parameter given at most once."""
    values = params.all(name)
    if not values:
        if required:
            raise BadRequest(f"Parameter '{name}' is required", code="required", expression=[name])
        return None
    if len(values) > 1:
        raise BadRequest(f"Parameter '{name}' is given more than once; apply the plan to one {kind} at a time",
                         expression=[name])
    value = values[0].get("valueString") or (values[0].get("valueReference") or {}).get("reference")
    key = el.ref_key(value)
    if key is None or key[0] != kind:
        raise BadRequest(f"Parameter '{name}' must be a {kind} reference ('{kind}/id'), not '{value}'",
                         expression=[name])
    return f"{key[0]}/{key[1]}"


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise BadRequest(f"Parameter 'persist' must be true or false, not '{value}'", expression=["persist"])


OPERATIONS = [
    Operation("terminate", terminate, OD + "Contract-terminate", instance=True,
              resource_types=("Contract",), affects_state=True),
    Operation("renew", renew, OD + "Contract-renew", instance=True,
              resource_types=("Contract",), affects_state=True),
    Operation("renew-due", renew_due, OD + "Contract-renew-due", type_level=True,
              resource_types=("Contract",), affects_state=True),
    Operation("fulfilment", contract_fulfilment, OD + "Contract-fulfilment", instance=True,
              resource_types=("Contract",)),
    Operation("family-doctor", patient_family_doctor, OD + "Patient-family-doctor", instance=True,
              resource_types=("Patient",)),
    Operation("record-service", record_service, OD + "Encounter-record-service", type_level=True,
              resource_types=("Encounter",), affects_state=True),
    Operation("book", book, OD + "ServiceRequest-book", instance=True,
              resource_types=("ServiceRequest",), affects_state=True),
    Operation("apply", apply, "http://hl7.org/fhir/OperationDefinition/PlanDefinition-apply", instance=True,
              resource_types=("PlanDefinition",), writes_on_post=True),
]
