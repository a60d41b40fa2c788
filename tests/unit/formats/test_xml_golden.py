"""FHIR XML (R4 §2.6 xml.html): exact output for the cases that trip serializers up."""

from __future__ import annotations

import pytest

from fhir_server.formats.xml import resource_to_xml, xml_to_resource

DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Peter <b>James</b> (&quot;Jim&quot;)<br/></p><td></td></div>'


def body(xml: bytes) -> str:
    """The document without the XML declaration and the root's namespace, for short expectations."""
    text = xml.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return text.split("?>", 1)[1].replace(' xmlns="http://hl7.org/fhir"', "", 1)


def roundtrip(resource: dict) -> bytes:
    xml = resource_to_xml(resource)
    assert xml_to_resource(xml) == resource
    assert xml_to_resource(resource_to_xml(resource, pretty=True)) == resource
    return xml


def test_elements_come_out_in_definition_order_not_json_order():
    xml = roundtrip({"gender": "male", "id": "p1", "active": True, "resourceType": "Patient"})
    assert body(xml) == '<Patient><id value="p1"/><active value="true"/><gender value="male"/></Patient>'


def test_primitive_extension_and_id_become_attributes_and_children():
    patient = {"resourceType": "Patient", "birthDate": "1970-03-30",
               "_birthDate": {"id": "b1", "extension": [{"url": "http://x/t", "valueTime": "14:35:45"}]}}
    assert body(roundtrip(patient)) == (
        '<Patient><birthDate id="b1" value="1970-03-30"><extension url="http://x/t">'
        '<valueTime value="14:35:45"/></extension></birthDate></Patient>')


def test_primitive_with_only_an_extension_has_no_value_attribute():
    patient = {"resourceType": "Patient",
               "_gender": {"extension": [{"url": "http://x/absent", "valueCode": "unknown"}]}}
    assert '<gender><extension url="http://x/absent">' in body(roundtrip(patient))


@pytest.mark.parametrize("given, extras, xml", [
    (["A", None, "C"], [None, {"id": "g2"}, None],
     '<given value="A"/><given id="g2"/><given value="C"/>'),
    (None, [{"id": "g1"}, {"id": "g2"}], '<given id="g1"/><given id="g2"/>'),
    (["A", "B"], [{"id": "g1"}, None], '<given id="g1" value="A"/><given value="B"/>'),
])
def test_nulls_in_primitive_arrays_line_up_with_the_companion(given, extras, xml):
    name: dict = {"_given": extras}
    if given is not None:
        name["given"] = given
    assert xml in body(roundtrip({"resourceType": "Patient", "name": [name]}))


def test_choice_types_use_the_json_name_and_extension_url_is_an_attribute():
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
           "valueQuantity": {"value": 72.5, "unit": "kg"},
           "extension": [{"url": "http://x/e", "id": "e1", "valueBoolean": False}]}
    assert body(roundtrip(obs)) == (
        '<Observation><extension id="e1" url="http://x/e"><valueBoolean value="false"/></extension>'
        '<status value="final"/><code><text value="weight"/></code>'
        '<valueQuantity><value value="72.5"/><unit value="kg"/></valueQuantity></Observation>')


@pytest.mark.parametrize("value, text", [(1.5, "1.5"), (0.0001, "0.0001"), (100, "100"), (-3, "-3"),
                                         (1e-7, "1e-07"), (100.0, "100.0")])
def test_decimals_keep_their_json_value_and_type(value, text):
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
           "valueQuantity": {"value": value}}
    xml = roundtrip(obs)
    assert f'<value value="{text}"/>' in body(xml)
    assert type(xml_to_resource(xml)["valueQuantity"]["value"]) is type(value)


def test_decimal_text_from_xml_reads_as_a_json_number():
    xml = (b'<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/></code>'
           b'<valueQuantity><value value="1.50"/></valueQuantity><valueInteger value="7"/></Observation>')
    obs = xml_to_resource(xml)
    assert obs["valueQuantity"]["value"] == 1.5 and obs["valueInteger"] == 7


def test_narrative_div_is_inline_xhtml_and_comes_back_verbatim():
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": DIV}}
    assert body(roundtrip(patient)) == f'<Patient><text><status value="generated"/>{DIV}</text></Patient>'


def test_narrative_written_with_a_prefix_is_normalized():
    xml = (b'<Patient xmlns="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"><text>'
           b'<status value="generated"/><h:div><h:p class="a">x &gt; y</h:p><h:br/></h:div></text></Patient>')
    assert xml_to_resource(xml)["text"]["div"] == (
        '<div xmlns="http://www.w3.org/1999/xhtml"><p class="a">x &gt; y</p><br/></div>')


def test_contained_resources_are_wrapped_in_their_type():
    patient = {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o1"}],
               "managingOrganization": {"reference": "#o1"}}
    assert body(roundtrip(patient)) == (
        '<Patient><contained><Organization><id value="o1"/></Organization></contained>'
        '<managingOrganization><reference value="#o1"/></managingOrganization></Patient>')


def test_bundle_entries_and_response_outcome_carry_resources():
    bundle = {"resourceType": "Bundle", "type": "transaction-response", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "1"}},
        {"response": {"status": "400", "outcome": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid"}]}}}]}
    xml = body(roundtrip(bundle))
    assert '<resource><Patient><id value="1"/></Patient></resource>' in xml
    assert "<outcome><OperationOutcome><issue>" in xml


def test_parameters_with_a_resource_and_parts():
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Patient", "active": True}},
        {"name": "p", "part": [{"name": "q", "valueInteger": 3}]}]}
    assert "<part><name value=\"q\"/><valueInteger value=\"3\"/></part>" in body(roundtrip(params))


def test_attribute_text_is_escaped_and_survives_whitespace_normalization():
    patient = {"resourceType": "Patient", "name": [{"text": 'a "b" <c> & d\n\te\r'}]}
    assert '<text value="a &quot;b&quot; &lt;c&gt; &amp; d&#10;&#9;e&#13;"/>' in body(roundtrip(patient))


def test_pretty_output_is_indented():
    xml = resource_to_xml({"resourceType": "Patient", "id": "p", "name": [{"family": "Li"}]}, pretty=True)
    assert xml.decode().splitlines()[1:] == [
        '<Patient xmlns="http://hl7.org/fhir">', '  <id value="p"/>', "  <name>",
        '    <family value="Li"/>', "  </name>", "</Patient>"]


def test_comments_and_schema_location_are_ignored_when_reading():
    xml = (b'<?xml version="1.0"?><!-- hi --><Patient xmlns="http://hl7.org/fhir" '
           b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir x.xsd">'
           b'<!-- c --><id value="p"/>\n  <active value="true"/></Patient>')
    assert xml_to_resource(xml) == {"resourceType": "Patient", "id": "p", "active": True}


def test_narratives_are_cut_out_of_the_source_exactly_even_among_comments_and_cdata():
    div1 = '<div xmlns="http://www.w3.org/1999/xhtml"><div title="a>b"><td></td></div><![CDATA[<div>]]></div>'
    div2 = '<div xmlns="http://www.w3.org/1999/xhtml"/>'
    xml = ('<Bundle xmlns="http://hl7.org/fhir"><!-- <div> --><type value="collection"/>'
           f'<entry><resource><Patient><text><status value="generated"/>{div1}</text></Patient></resource></entry>'
           f'<entry><resource><Patient><text><status value="empty"/>{div2}</text></Patient></resource></entry>'
           '</Bundle>')
    bundle = xml_to_resource(xml.encode())
    assert [e["resource"]["text"]["div"] for e in bundle["entry"]] == [div1, div2]


def test_div_without_namespace_in_json_is_written_in_the_xhtml_namespace():
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": "<div><p>x</p></div>"}}
    xml = resource_to_xml(patient)
    assert b'<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>' in xml
    assert xml_to_resource(xml)["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>'


def test_text_input_and_other_encodings_are_read():
    assert xml_to_resource('<Patient xmlns="http://hl7.org/fhir"><id value="中"/></Patient>')["id"] == "中"
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"><text>' \
            '<status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">café</div></text></Patient>'
    patient = xml_to_resource(latin.encode("latin-1"))
    assert patient["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml">café</div>'
