"""FHIRPath Patch (R4 fhirpatch): generated Parameters bodies PATCHed onto a stored Patient."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import FUZZ, assert_handled
from fuzz.shapes import text_or_worst, worst_case

PATHS = ["Patient", "Patient.birthDate", "Patient.name", "Patient.name[0].given", "Patient.name.where(use='official')",
         "Patient.identifier.where(value.matches('^a+$'))", "Patient.telecom.first()", "Patient.name[99]",
         "Patient.extension('http://x')", "Patient.name.given.replaceMatches('(a*)*b', 'c')", "%resource",
         "Patient.gender.as(String)", "(Patient.name)", "Patient.name.select(given)"]
TYPES = ["add", "insert", "delete", "replace", "move", "frobnicate", ""]
VALUE_KEYS = ["valueString", "valueCode", "valueDate", "valueInteger", "valueBoolean", "valueHumanName", "valueDecimal"]

paths = st.sampled_from(PATHS) | worst_case(["(", ".", "where(", "[0]", "'", "a", "|", "given", "$this"], 400)
values = st.one_of(st.text(max_size=30), st.integers(-2**40, 2**40), st.booleans(), st.floats(allow_nan=False),
                   st.fixed_dictionaries({"family": text_or_worst(max_size=10, max_repeat=500)}))


@st.composite
def operations(draw) -> dict:
    parts = [{"name": "type", "valueCode": draw(st.sampled_from(TYPES))}, {"name": "path", "valueString": draw(paths)}]
    if draw(st.booleans()):
        parts.append({"name": "name", "valueString": draw(st.sampled_from(["given", "family", "x", "", "gender"]))})
    if draw(st.booleans()):
        parts.append({"name": "value", draw(st.sampled_from(VALUE_KEYS)): draw(values)})
    for index_name in draw(st.lists(st.sampled_from(["index", "source", "destination"]), max_size=2)):
        parts.append({"name": index_name, "valueInteger": draw(st.integers(-3, 2**33))})
    return {"name": "operation", "part": parts}


@pytest.fixture(scope="module")
def patient_url(fuzz_app):
    client = fuzz_app.test_client()
    response = client.post("/fhir/Patient", json={"resourceType": "Patient",
                                                  "name": [{"family": "张", "given": ["三"]}],
                                                  "gender": "male", "birthDate": "1950-01-01"})
    assert response.status_code == 201
    return "/fhir/Patient/" + response.get_json()["id"]


@FUZZ
@given(st.lists(operations(), min_size=1, max_size=4))
def test_fhirpath_patches(fuzz_client, patient_url, ops):
    body = {"resourceType": "Parameters", "parameter": ops}
    response = fuzz_client.patch(patient_url, data=orjson.dumps(body), content_type="application/fhir+json")
    assert_handled(response)
