"""FHIR XML input that must be refused: unsafe (entities, DTDs), malformed or not FHIR."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import BadRequest
from fhir_server.formats.xml import resource_to_xml, xml_to_resource

NS = 'xmlns="http://hl7.org/fhir"'


def refused(data: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        xml_to_resource(data)
    return info.value


@pytest.mark.parametrize("data", [
    # billion laughs
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    b'<Patient ' + NS.encode() + b'><id value="&b;"/></Patient>',
    # external entity reading a local file
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<Patient ' + NS.encode() + b'><id value="&x;"/></Patient>',
    # external DTD
    b'<?xml version="1.0"?><!DOCTYPE Patient SYSTEM "http://example.org/evil.dtd">'
    b'<Patient ' + NS.encode() + b'/>',
    b'<!DOCTYPE Patient><Patient ' + NS.encode() + b'/>',
])
def test_doctype_and_entities_are_refused(data):
    error = refused(data)
    assert error.issues[0].code in ("security", "structure")


def _told(error: BadRequest) -> str:
    """Everything the refusal says, as a client would read it."""
    return " ".join([str(error), *(str(i.diagnostics) for i in error.issues)])


@pytest.mark.parametrize("where", ["attribute", "entity in an attribute of a nested element"])
def test_an_external_entity_is_refused_and_the_file_never_read(tmp_path, where):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-7f3c2a91", encoding="utf-8")
    body = b'<id value="&x;"/>' if where == "attribute" else b'<name><text value="&x;"/></name>'
    data = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "' + secret.as_uri().encode() + b'">]>'
            b'<Patient ' + NS.encode() + b'>' + body + b'</Patient>')
    error = refused(data)
    assert error.issues[0].code in ("security", "structure")
    assert "SECRET-7f3c2a91" not in _told(error)


def test_undeclared_entity_is_malformed():
    assert refused(b'<Patient ' + NS.encode() + b'><id value="&x;"/></Patient>').issues[0].code == "structure"


@pytest.mark.parametrize("data", [b"", b"<Patient", b"not xml", b'<Patient ' + NS.encode() + b'><id></Patient>'])
def test_malformed_xml_says_so(data):
    error = refused(data)
    assert error.issues[0].code == "structure" and "Malformed XML" in error.issues[0].diagnostics


def test_unknown_element_names_its_path():
    error = refused(b'<Patient ' + NS.encode() + b'><name><nickname value="x"/></name></Patient>')
    assert error.issues[0].code == "structure"
    assert error.issues[0].expression == ("Patient.name.nickname",)


@pytest.mark.parametrize("data", [
    b'<Patient xmlns="http://example.org/not-fhir"/>',
    b'<Patient/>',
    b'<Patient ' + NS.encode() + b'><name xmlns="urn:x"/></Patient>',
    b'<Patient ' + NS.encode() + b'><text><status value="generated"/><div>no xhtml namespace</div></text></Patient>',
])
def test_wrong_namespace_is_refused(data):
    assert refused(data).issues[0].code == "structure"


@pytest.mark.parametrize("data, words", [
    (b'<Unicorn ' + NS.encode() + b'/>', "Unknown resource type"),
    (b'<Patient ' + NS.encode() + b'><active value="yes"/></Patient>', "not a valid boolean"),
    (b'<Patient ' + NS.encode() + b'><multipleBirthInteger value="1.5"/></Patient>', "not a valid integer"),
    (b'<Patient ' + NS.encode() + b'><gender value="male"/><gender value="male"/></Patient>', "only once"),
    (b'<Patient ' + NS.encode() + b'><gender/></Patient>', "neither a value"),
    (b'<Patient ' + NS.encode() + b'><gender value="male" colour="red"/></Patient>', "Unknown attribute"),
    (b'<Patient ' + NS.encode() + b'><name>Li</name></Patient>', "Text content"),
    (b'<Patient ' + NS.encode() + b' id="p1"/>', "Unknown attribute"),
    (b'<Patient ' + NS.encode() + b'><name url="x"/></Patient>', "Unknown attribute"),
    (b'<Patient ' + NS.encode() + b'><extension><url value="x"/></extension></Patient>', "Unknown element"),
    (b'<Bundle ' + NS.encode() + b'><entry><resource><Patient/><Patient/></resource></entry></Bundle>',
     "exactly one resource"),
])
def test_structural_errors_are_explained(data, words):
    assert words in refused(data).issues[0].diagnostics


@pytest.mark.parametrize("resource, words", [
    ({"resourceType": "Patient", "nickname": "x"}, "Patient.nickname"),
    ({"resourceType": "Nope"}, "resourceType"),
    ({"resourceType": "Patient", "text": {"status": "generated", "div": "<div>&nbsp;</div>"}}, "well-formed"),
    ({"resourceType": "Patient", "text": {"status": "generated", "div": "<p>x</p>"}}, "<div>"),
    ({"resourceType": "Patient", "name": [{"family": "a\x00b"}]}, "cannot carry"),
])
def test_writer_refuses_what_xml_cannot_say(resource, words):
    with pytest.raises(BadRequest) as info:
        resource_to_xml(resource)
    assert words in str(info.value)
