"""The $export kick-off parameters (Bulk Data IG 2.0.0): parsed, or refused with the parameter named."""

from __future__ import annotations

import pytest

from fhir_server.bulk.kickoff import GROUP, NDJSON, PATIENT, SYSTEM, ExportRequest, parameters, parse
from fhir_server.core.errors import BadRequest
from fhir_server.search import base_registry


def _parse(items, level=SYSTEM, **kwargs) -> ExportRequest:
    return parse(items, level, "http://x/fhir/$export", base_registry(), **kwargs)


def test_defaults():
    request = _parse([])
    assert request.output_format == NDJSON and request.types == () and request.since is None


@pytest.mark.parametrize("value", ["application/fhir+ndjson", "application/ndjson", "ndjson", "application/fhir ndjson"])
def test_output_formats(value):
    assert _parse([("_outputFormat", value)]).output_format == NDJSON


def test_types_comma_separated_and_repeated_each_once():
    request = _parse([("_type", "Patient,Observation"), ("_type", "Patient"), ("_type", " Encounter ")])
    assert request.types == ("Patient", "Observation", "Encounter")


def test_since_is_utc():
    assert _parse([("_since", "2026-01-02T08:00:00+08:00")]).since == "2026-01-02T00:00:00"


def test_type_filters_keep_their_query():
    request = _parse([("_typeFilter", "Observation?code=http://loinc.org|8480-6&date=ge2026")])
    assert request.type_filters == (("Observation", "code=http://loinc.org|8480-6&date=ge2026"),)


@pytest.mark.parametrize("items, parameter", [
    ([("_outputFormat", "application/fhir+json")], "_outputFormat"),
    ([("_type", "Patient,Nope")], "_type"),
    ([("_since", "2026-01-02")], "_since"),
    ([("_since", "2026-01-02T00:00:00Z"), ("_since", "2026-01-03T00:00:00Z")], "_since"),
    ([("_typeFilter", "Observation?bogus=1")], "_typeFilter"),
    ([("_typeFilter", "Observation")], "_typeFilter"),
])
def test_refusals_name_the_parameter(items, parameter):
    with pytest.raises(BadRequest) as refused:
        _parse(items)
    assert parameter in refused.value.issues[0].expression or parameter in str(refused.value)


def test_patient_only_posted_and_not_at_system_level():
    with pytest.raises(BadRequest):
        _parse([("patient", "Patient/1")], PATIENT)
    with pytest.raises(BadRequest):
        _parse([("patient", "Patient/1")], SYSTEM, posted=True)
    with pytest.raises(BadRequest):
        _parse([("patient", "Observation/1")], PATIENT, posted=True)
    assert _parse([("patient", "http://x/fhir/Patient/7")], GROUP, posted=True).patients == ("7",)


def test_unknown_parameters_ignored_unless_strict():
    assert _parse([("_elements", "id")]).types == ()
    with pytest.raises(BadRequest):
        _parse([("_elements", "id")], strict=True)


def test_associated_data_accepted_whatever_the_value():
    assert _parse([("includeAssociatedData", "LatestProvenanceResources,_custom")]).associated == (
        "LatestProvenanceResources", "_custom")


def test_parameters_body():
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Patient"}, {"name": "_since", "valueInstant": "2026-01-01T00:00:00Z"},
        {"name": "patient", "valueReference": {"reference": "Patient/9"}}]}
    assert parameters([("_outputFormat", "ndjson")], body) == [
        ("_outputFormat", "ndjson"), ("_type", "Patient"), ("_since", "2026-01-01T00:00:00Z"), ("patient", "Patient/9")]
    with pytest.raises(BadRequest):
        parameters([], {"resourceType": "Patient"})
    with pytest.raises(BadRequest):
        parameters([], {"resourceType": "Parameters", "parameter": [{"name": "_type"}]})


def test_round_trip_through_json():
    request = _parse([("_type", "Patient"), ("_typeFilter", "Patient?gender=male")])
    assert ExportRequest.from_json(request.to_json()) == request
