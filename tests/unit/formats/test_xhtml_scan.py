"""The raw-div extraction of the XML reader is one pass (issue 18: 80 KB of ``<!--`` inside a
processing instruction after the div took 7.5 s, quadratic), and still cuts each div out as
written around comments, CDATA sections and processing instructions."""

from __future__ import annotations

from fhir_server.formats import xhtml
from fhir_server.formats.xml_reader import xml_to_resource
from tests.unit.core.test_linear_regex import deadline

NS = 'xmlns="http://www.w3.org/1999/xhtml"'
DIV = f'<div {NS}>hi<!-- <div> --><b a="1">x<?p <div> ?></b><![CDATA[<div>]]><br/></div>'


def _patient(tail: str) -> bytes:
    return (f'<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/>{DIV}</text>'
            f'{tail}<gender value="male"/></Patient>').encode()


def test_divs_are_cut_out_verbatim():
    assert xml_to_resource(_patient("<!-- <div>not this</div> -->"))["text"]["div"] == DIV
    assert xhtml.raw_divs(f"<x>{DIV}<!-- --><y><div {NS}/></y></x>") == [DIV, f"<div {NS}/>"]
    assert xhtml.raw_divs("<x><div>no namespace</div></x>") == [None]


def test_comment_openers_in_a_processing_instruction_are_linear():
    with deadline():
        resource = xml_to_resource(_patient("<?pi " + "<!-- " * 200_000 + "?>"))  # ~1 MB
    assert resource["text"]["div"] == DIV and resource["gender"] == "male"


def test_unclosed_markup_openers_in_a_div_are_linear():
    with deadline():
        assert xhtml.raw_divs(f"<x><div {NS}>" + "<?" * 100_000 + "<!--" * 100_000) != []
        assert xhtml.raw_divs("<![CDATA[" * 100_000) == []


def test_narrative_text_for_full_text_search_is_linear():
    from fhir_server.search.fulltext import narrative_text

    with deadline():
        assert narrative_text({"text": {"div": "<" * 200_000}}).strip() == "<" * 200_000
    assert narrative_text({"text": {"div": f"<div {NS}><p>张三</p>&amp;</div>"}}).split() == ["张三", "&"]
