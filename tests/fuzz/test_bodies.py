"""JSON and XML bodies: generated documents, mangled bytes and worst-case shapes, POSTed and PUT."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from fuzz.conftest import FUZZ, assert_handled
from fuzz.shapes import text_or_worst, worst_case

PATIENT_KEYS = ["id", "meta", "text", "identifier", "active", "name", "telecom", "gender", "birthDate",
                "address", "extension", "contained", "link", "managingOrganization", "deceasedBoolean",
                "multipleBirthInteger", "resourceType", "_birthDate", "given", "family", "value", "system",
                "url", "valueString", "reference", "div", "status"]
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
           | text_or_worst(max_repeat=2000))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(PATIENT_KEYS) | st.text(max_size=8), inner, max_size=5),
                           max_leaves=20)
patients = st.dictionaries(st.sampled_from(PATIENT_KEYS), json_values, max_size=6).map(
    lambda d: {**d, "resourceType": "Patient"})


def _post(client, data: bytes, content_type: str):
    return client.post("/fhir/Patient", data=data, content_type=content_type)


@FUZZ
@given(patients)
def test_json_resources(fuzz_client, resource):
    assert_handled(_post(fuzz_client, json.dumps(resource).encode(), "application/fhir+json"))


@FUZZ
@given(st.binary(max_size=300) | worst_case(["[", "{\"a\":", "\"", "\\u0000", "1e999", ",", "[1,"]).map(str.encode))
def test_json_bytes(fuzz_client, data):
    assert_handled(_post(fuzz_client, data, "application/fhir+json"))


@FUZZ
@given(st.sampled_from(["family", "given", "text"]), text_or_worst(max_repeat=20000))
def test_json_long_strings(fuzz_client, key, value):
    name = {key: [value] if key == "given" else value}
    resource = {"resourceType": "Patient", "name": [name], "birthDate": "1950-01-01"}
    assert_handled(_post(fuzz_client, json.dumps(resource).encode(), "application/fhir+json"))


XML_UNITS = ["<a>", "</a>", "<!--", "-->", "<?x ", "?>", "<![CDATA[", "&amp;", "&#", "<div xmlns='http://www.w3.org/1999/xhtml'>",
             "<extension url='x'>", "<name><family value='张'/></name>", "<!DOCTYPE x [<!ENTITY e 'y'>]>"]


@st.composite
def xml_documents(draw) -> bytes:
    inner = draw(worst_case(XML_UNITS, max_repeat=1500) | st.text(max_size=80))
    wrap = draw(st.booleans())
    text = f"<Patient xmlns='http://hl7.org/fhir'>{inner}</Patient>" if wrap else inner
    return text.encode("utf-8", "surrogatepass")


@FUZZ
@given(xml_documents() | st.binary(max_size=200))
def test_xml_bodies(fuzz_client, data):
    assert_handled(_post(fuzz_client, data, "application/fhir+xml"))
