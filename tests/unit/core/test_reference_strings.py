"""reference_strings reads the references from the JSON text: the same strings as a walk of the
objects, escapes and non-ASCII included, and ``contained`` skipped when asked."""

from fhir_server.core.decimals import FhirDecimal
from fhir_server.core.references import _walk_references, reference_strings

RESOURCE = {
    "resourceType": "Observation", "subject": {"reference": "Patient/1"},
    "performer": [{"reference": 'Practitioner/a"b'}, {"reference": 3}, {"display": "reference"},
                  {"extension": [{"valueReference": {"reference": "Organization/机构\\x"}}]}],
    "note": [{"text": '"reference":"Patient/fake"'}],
    "contained": [{"resourceType": "Patient", "id": "c", "link": [{"other": {"reference": "Patient/in"}}]}],
}


def test_the_text_reading_finds_what_the_walk_finds():
    expected = ["Patient/1", 'Practitioner/a"b', "Organization/机构\\x", "Patient/in"]
    assert reference_strings(RESOURCE) == expected == _walk_references(RESOURCE, False)


def test_contained_resources_are_skipped_when_asked():
    assert reference_strings(RESOURCE, skip_contained=True) == ["Patient/1", 'Practitioner/a"b',
                                                                 "Organization/机构\\x"]


def test_a_resource_with_exact_decimals_is_walked():
    resource = {"valueQuantity": {"value": FhirDecimal("1.50")}, "subject": {"reference": "Patient/2"}}
    assert reference_strings(resource) == ["Patient/2"]
