"""Index extraction compiled per type gives the FHIRPath engine's answers: the expressions that
have a native evaluator are held to the engine on the shapes a resource can take."""

from __future__ import annotations

import pytest

from fhir_server.search.expression import _fhirpath, compile_expression
from fhir_server.search.params import composite

DECEASED = "Patient.deceased.exists() and Patient.deceased != false"


@pytest.mark.parametrize("fields", [
    {}, {"deceasedBoolean": True}, {"deceasedBoolean": False}, {"deceasedBoolean": None},
    {"deceasedDateTime": "2020-01-01"}, {"deceasedDateTime": "2020-01-01T10:00:00+08:00"},
    {"_deceasedBoolean": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                          "valueCode": "unknown"}]}},
    {"deceasedBoolean": False, "_deceasedBoolean": {"id": "x"}},
    {"deceasedBoolean": True, "deceasedDateTime": "2020"},
])
def test_deceased_flag_is_the_engines(fields):
    patient = {"resourceType": "Patient", **fields}
    native = compile_expression(DECEASED, "Patient")
    assert native.__qualname__.startswith("_exists_not_false")  # not the engine itself
    assert native(patient) == _fhirpath(DECEASED)(patient)


def test_composite_columns_take_each_columns_first_value():
    row = {"system": "http://loinc.org", "code": "8480-6", "unit": "mm[Hg]", "low": 1, "high": 2}
    assert composite._to_columns("quantity", 2, row) == {
        "a2": "http://loinc.org", "b2": "8480-6", "low2": 1, "high2": 2}
    assert composite._to_columns("quantity", 1, {"unit": "mm[Hg]", "low": 1}) == {
        "a1": None, "b1": "mm[Hg]", "low1": 1, "high1": None}
    assert composite._to_columns("token", 1, {"code": "x"}) == {"a1": None, "b1": "x", "low1": None, "high1": None}
