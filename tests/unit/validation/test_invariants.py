"""The invariant engine: base R4 invariants on their elements, the native ele-1/ext-1/ref-1
agree with their FHIRPath, unsupported functions are skipped (never a false error)."""

from __future__ import annotations

import pytest

from fhir_server.core.fhirpath import evaluate
from fhir_server.validation import Validator, ig
from fhir_server.validation.invariants import (
    UNSUPPORTED,
    Invariant,
    base_invariants,
    ext_1,
    holds,
    ref_1,
)


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(ig.conformance())


def _errors(validator, resource):
    return [(i.code, i.expression, i.diagnostics.split(":")[0]) for i in validator.validate(resource) if i.is_error]


def test_base_invariants_fail_where_they_are_defined(validator):
    patient = {"resourceType": "Patient", "contact": [{"gender": "male"}],
               "name": [{"text": "张三", "period": {"start": "2020-01-02", "end": "2020-01-01"}}],
               "managingOrganization": {"reference": "#org"}}
    errors = _errors(validator, patient)
    assert ("invariant", ("Patient.contact[0]",), "Constraint pat-1 failed") in errors
    assert ("invariant", ("Patient.name[0].period",), "Constraint per-1 failed") in errors
    assert ("invariant", ("Patient.managingOrganization",), "Constraint ref-1 failed") in errors


def test_ele_1_and_ext_1(validator):
    patient = {"resourceType": "Patient", "name": [{"id": "n1"}],
               "extension": [{"url": "http://example.org/x", "valueString": "a", "extension": [
                   {"url": "y", "valueString": "b"}]}]}
    errors = _errors(validator, patient)
    assert ("invariant", ("Patient.name[0]",), "Constraint ele-1 failed") in errors
    assert ("invariant", ("Patient.extension[0]",), "Constraint ext-1 failed") in errors


@pytest.mark.parametrize("node", [
    {"url": "x", "valueString": "a"}, {"url": "x", "extension": [{"url": "y", "valueString": "b"}]},
    {"url": "x"}, {"url": "x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]},
])
def test_native_ext_1_agrees_with_fhirpath(node):
    expression = base_invariants()["Extension"][0].expression
    assert evaluate(node, expression, "Extension") == [ext_1(node)]


@pytest.mark.parametrize("reference", ["Patient/1", "#c1", "#nope", "http://x.org/fhir/Patient/1"])
def test_native_ref_1_agrees_with_fhirpath(reference):
    root = {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "c1"}]}
    node = {"reference": reference}
    expression = base_invariants()["Reference"][0].expression
    got = evaluate(node, expression, "Reference", {"rootResource": root})
    assert got == [ref_1(node, root)]


@pytest.mark.parametrize("function", UNSUPPORTED)
def test_unsupported_functions_are_skipped(function):
    invariant = Invariant("x-1", "error", f"{function}('a').not()", "")
    assert holds(invariant, {"a": 1}, "Patient", {}, {}) is None


def test_has_value_is_supplied():
    invariant = Invariant("x-2", "error", "start.hasValue().not() or end.hasValue().not() or (start <= end)", "")
    assert holds(invariant, {"start": "2021", "end": "2020"}, "Period", {}, {}) is False
    assert holds(invariant, {"start": "2020"}, "Period", {}, {}) is True


@pytest.mark.parametrize("node", [
    {"value": 3}, {"value": 3, "code": "mg"}, {"value": 3, "code": "mg", "system": "http://unitsofmeasure.org"},
    {"system": "http://unitsofmeasure.org"}, {"value": 3, "_code": {"extension": [{"url": "x", "valueString": "a"}]}},
    {"code": "mg", "_system": {"id": "s"}}, {"code": None, "system": None}, {"code": ["mg"], "system": []},
    {"code": "mg", "system": ""}, {},
])
def test_native_qty_3_agrees_with_fhirpath(node):
    from fhir_server.validation.native_invariants import qty_3

    (invariant,) = [i for i in base_invariants()["Quantity"] if i.key == "qty-3"]
    assert evaluate(node, invariant.expression, "Quantity") == [qty_3(node)]
