"""Narrative.div on write and in $validate: well-formed XHTML, the R4 elements and attributes
(txt-1, txt-2), and no active content (the stored-XSS guard, issue 18)."""

from __future__ import annotations

import pytest

from fhir_server.validation import validate_resource
from fhir_server.validation.narrative import narrative_issues

NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def _div(inner: str) -> str:
    return f"<div {NS}>{inner}</div>"


def _issues(div: str):
    return [(i.code, i.severity, i.expression) for i in
            validate_resource({"resourceType": "Patient", "text": {"status": "generated", "div": div}})]


@pytest.mark.parametrize("inner", [
    "<script>alert(1)</script>",
    "<p>x<script src='https://evil.example/x.js'/></p>",
    "<iframe src='https://evil.example'/>",
    "<form action='https://evil.example'><input name='pw'/></form>",
    "<base href='https://evil.example/'/>",
    "<meta http-equiv='refresh' content='0;url=https://evil.example'/>",
    "<object data='x.swf'/>",
    "<embed src='x.swf'/>",
    "<img src='x.png' onerror='alert(1)'/>",
    "<p onclick='alert(1)'>x</p>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href=' JaVa&#x09;ScRiPt:alert(1)'>x</a>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>",
    "<span style='background:url(javascript:alert(1))'>x</span>",
    "<span style='width: expression(alert(1))'>x</span>",
    "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
])
def test_active_content_is_refused_with_its_location(inner):
    issues = _issues(_div(inner))
    assert any(code in ("security", "structure") and severity == "error" and where == ("Patient.text.div",)
               for code, severity, where in issues), issues


@pytest.mark.parametrize(("div", "code"), [
    ("<div>no namespace</div>", "structure"),
    (_div("<p>unclosed"), "structure"),
    ("<div xmlns='http://www.w3.org/1999/xhtml'>a &nbsp; b</div>", "structure"),  # not an XML entity
    ("<p xmlns='http://www.w3.org/1999/xhtml'>not a div</p>", "structure"),
    (_div("x</div><div>y"), "structure"),
    (_div("<font color='red'>x</font>"), "invariant"),
    (_div("<p data-x='1'>x</p>"), "invariant"),
])
def test_not_well_formed_or_not_allowed(div, code):
    assert (code, "error", ("Patient.text.div",)) in _issues(div)


def test_whitespace_only_is_a_txt_2_warning():
    assert _issues(_div("  <pre> </pre> ")) == [("invariant", "warning", ("Patient.text.div",))]


@pytest.mark.parametrize("inner", [
    "<p>张三, 男, 1950-03-04</p>",
    "<table border='1'><tbody><tr><td colspan='2' style='color:red'>x</td></tr></tbody></table>",
    "<a href='http://example.org/x'>link</a> <a name='anchor'/> <img src='#pic' alt='pic'/>",
    "<ul><li>a</li></ul><ol start='2'><li value='3'>b</li></ol><!-- a comment -->",
    "<p xml:lang='zh' lang='zh' class='c' id='p1' title='t'>x &amp; y &#160; z</p>",
    "<p>x<![CDATA[ <b>text</b> ]]></p>",
])
def test_ordinary_narratives_pass(inner):
    assert _issues(_div(inner)) == []


def test_issues_are_bounded():
    issues = narrative_issues(_div("<p onclick='x'>x</p>" * 500), "Patient.text.div")
    assert 0 < len(issues) <= 21


def test_contained_resource_narrative_is_checked_at_its_location():
    issues = validate_resource({"resourceType": "Patient", "contained": [
        {"resourceType": "Organization", "id": "o", "name": "x",
         "text": {"status": "generated", "div": _div("<script>1</script>")}}]})
    assert ("security", "error", ("Patient.contained[0].text.div",)) in [(i.code, i.severity, i.expression)
                                                                          for i in issues]


def test_xml_space_preserve_is_legal_and_other_values_are_not():
    """fhir-test-cases dr-xml-space: xml:space="preserve" on <pre> is legal XHTML (discouraged only)."""
    assert _issues(_div('<pre xml:space="preserve">Hb  176 g/L</pre>')) == []
    assert [c for c, s, _ in _issues(_div('<pre xml:space="default">Hb</pre>')) if s == "error"] == ["invariant"]


@pytest.mark.parametrize(("href", "ok"), [
    ("https://example.org/a", True), ("mailto:x@example.org", True), ("tel:+86-10-1234", True),
    ("#section-1", True), ("Patient/p1", True), ("urn:uuid:7221aa91-d9e1-44fa-8b90-c5a8c7caeade", False),
    ("urn:oid:1.2.3", False), ("file:///etc/passwd", False),
])
def test_links_have_a_scheme_a_reader_can_follow(href, ok):
    errors = [c for c, s, _ in _issues(_div(f'<p><a href="{href}">x</a></p>')) if s == "error"]
    assert errors == ([] if ok else ["invariant"])
