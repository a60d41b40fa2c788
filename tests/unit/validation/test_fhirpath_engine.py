"""FHIRPath as the validator evaluates it: date/times compare as instants with their precision
(per-1 across time zones), and expressions that start with the resource's type name evaluate
(app-4)."""

from __future__ import annotations

import pytest

from fhir_server.core.fhirpath import FhirPathError, compiled, evaluate
from fhir_server.validation import Validator, ig
from fhir_server.validation.invariants import base_invariants, holds


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(ig.conformance())


def _keys(validator, resource):
    return [i.diagnostics.split(":")[0] for i in validator.validate(resource) if i.is_error]


def _invariant(path, key):
    return next(i for i in base_invariants()[path] if i.key == key)


@pytest.mark.parametrize(("start", "end", "ok"), [
    ("2024-03-01T10:00:00+08:00", "2024-03-01T03:00:00Z", True),   # 02:00Z before 03:00Z
    ("2024-03-01T03:00:00Z", "2024-03-01T10:00:00+08:00", False),  # 03:00Z after 02:00Z: inverted
    ("2024-03-01T10:00:00+08:00", "2024-03-01T02:00:00Z", True),   # the same instant
    ("2024-03-01T09:00:00Z", "2024-03-01T10:00:00+08:00", False),
    ("2024-03-01", "2024-03-01T10:00:00+08:00", True),   # different precision, equal as far as both go: unknown
    ("2024-03-02", "2024-03-01T10:00:00+08:00", False),  # decided at the day
    ("2024", "2024-03", True),
    ("2025", "2024-12-31", False),
])
def test_per_1_compares_instants(start, end, ok):
    assert holds(_invariant("Period", "per-1"), {"start": start, "end": end}, "Period", {}, {}) is ok


def test_period_across_time_zones_validates(validator):
    encounter = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                 "period": {"start": "2024-03-01T10:00:00+08:00", "end": "2024-03-01T03:00:00Z"}}
    assert "Constraint per-1 failed" not in _keys(validator, encounter)
    encounter["period"] = {"start": "2024-03-01T03:00:00Z", "end": "2024-03-01T10:00:00+08:00"}
    assert "Constraint per-1 failed" in _keys(validator, encounter)


def test_app_4_fires_on_an_expression_that_starts_with_the_type(validator):
    appointment = {"resourceType": "Appointment", "status": "booked", "participant": [{"status": "accepted",
                   "actor": {"display": "王医生"}}], "start": "2024-03-01T09:00:00+08:00",
                   "end": "2024-03-01T09:30:00+08:00", "cancelationReason": {"text": "patient asked"}}
    assert "Constraint app-4 failed" in _keys(validator, appointment)
    appointment["status"] = "cancelled"
    assert "Constraint app-4 failed" not in _keys(validator, appointment)


def test_type_name_at_the_root():
    patient = {"resourceType": "Patient", "gender": "female"}
    assert evaluate(patient, "Patient.gender") == ["female"]
    assert evaluate(patient, "Observation.status") == []


@pytest.mark.parametrize(("expression", "expected"), [
    ("@2012-04-15 = @2012-04-15T10:00:00Z", []),
    ("@2012-04-15T10:00:00+08:00 = @2012-04-15T02:00:00Z", [True]),
    ("@2012-04-15T10:00:00+08:00 != @2012-04-15T02:00:01Z", [True]),
    ("@2012-04-15T10:00 = @2012-04-15T10:00:00", []),
])
def test_literal_equality_follows_precision(expression, expected):
    assert evaluate({}, expression) == expected


def test_instant_elements_compare_as_instants():
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": "2024-03-01T10:00:00+08:00"}
    assert evaluate(bundle, "timestamp < @2024-03-01T03:00:00Z") == [True]
    assert evaluate(bundle, "timestamp = @2024-03-01T02:00:00Z") == [True]


def test_a_syntax_error_is_a_fhirpath_error():
    with pytest.raises(FhirPathError):
        compiled("name.where(")


@pytest.mark.parametrize(("a", "b"), [
    ("2024-03-01T10:00:00+08:00", "2024-03-01T03:00:00Z"), ("2024-03-01T02:00:00Z", "2024-03-01T10:00:00+08:00"),
    ("2024-03-01T10:00:00.500+08:00", "2024-03-01T02:00:00.5Z"), ("2024", "2024-03"), ("2024-02", "2024-03-01"),
    ("2024-03-01", "2024-03-01"), ("2024-03-02", "2024-03-01T23:00:00Z"), ("2023-12-31", "2024-01-01T00:00:00Z"),
])
@pytest.mark.parametrize("operator", ["<", "<=", ">", ">=", "=", "!="])
def test_elements_compare_like_literals(a, b, operator):
    """The fast comparison of two date/time elements agrees with the engine's literal comparison."""
    period = {"start": a, "end": b}
    assert evaluate(period, f"start {operator} end", "Period") == evaluate({}, f"@{a} {operator} @{b}")
