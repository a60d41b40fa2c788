"""The narrative ``div`` in XML (FHIR R4 §2.6 xml.html "Narrative", §2.4 narrative.html#xhtml).

JSON carries ``Narrative.div`` as a string of XHTML; XML carries the same markup inline, in the
``http://www.w3.org/1999/xhtml`` namespace.  Markup has many spellings of one tree (``<td/>``
and ``<td></td>``, ``"`` and ``&quot;``), so a parsed tree cannot give back the client's string.
We therefore copy the div *text* both ways: the writer embeds the JSON string verbatim, and the
reader cuts each div out of the source document (:func:`raw_divs`).  When that is impossible
(a prefixed or inherited namespace, an unusual encoding) :func:`canonical` re-serializes the
parsed tree in the style of the official examples.
"""

from __future__ import annotations

import re

from lxml import etree

from fhir_server.core.errors import BadRequest

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XHTML = "{" + XHTML_NS + "}"
_XML = "{http://www.w3.org/XML/1998/namespace}"
_DECLARES_XHTML = re.compile(r"""\sxmlns\s*=\s*(["'])http://www\.w3\.org/1999/xhtml\1""")

# A start or end tag at a known "<" (attribute values hold no "<"; each character has one place to go).
_TAG = re.compile(r"""<(/?)[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")
_DIV_OPEN = re.compile(r"<div[\s/>]")
# markup whose end is found with str.find: (opening, closing)
_SKIPPED = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"), ("<!", ">"))
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def parse_div(text: str, parser: etree.XMLParser) -> etree._Element:
    """Parse a JSON ``div`` string, refusing anything but one well-formed XHTML div."""
    try:
        root = etree.fromstring(text, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise BadRequest(f"Narrative div is not well-formed XHTML: {exc}", code="structure",
                         expression=["text.div"]) from exc
    if root.tag not in (_XHTML + "div", "div"):
        raise BadRequest("Narrative div must be an XHTML <div> element", code="structure",
                         expression=["text.div"])
    return root


def div_for_xml(text: str, parser: etree.XMLParser) -> str:
    """The markup to embed in an XML document for the JSON ``div`` string ``text``."""
    root = parse_div(text, parser)
    if root.tag == _XHTML + "div" and text.startswith("<div") and _declares_xhtml(text):
        return text  # verbatim, so that reading it back gives the very same string
    return canonical(root)


def canonical(root: etree._Element) -> str:
    """Serialize a parsed div the way the official JSON examples spell it."""
    out: list[str] = []
    _serialize(root, out, top=True)
    return "".join(out)


def _serialize(node: etree._Element, out: list[str], top: bool = False) -> None:
    tag = node.tag
    if tag is etree.Comment:
        out.append(f"<!--{node.text or ''}-->")
    elif isinstance(tag, str):
        name = tag.removeprefix(_XHTML)
        out.append("<" + name)
        if top:
            out.append(f' xmlns="{XHTML_NS}"')
        for key, value in node.attrib.items():
            if key.startswith(_XML):
                key = "xml:" + key[len(_XML):]
            out.append(f' {key}="{_escape_attr(value)}"')
        if node.text is None and len(node) == 0:
            out.append("/>")
        else:
            out.append(">")
            if node.text:
                out.append(node.text.translate(_ESCAPES))
            for child in node:
                _serialize(child, out)
            out.append(f"</{name}>")
    if not top and node.tail:
        out.append(node.tail.translate(_ESCAPES))


def _escape_attr(value: str) -> str:
    return value.translate(_ESCAPES).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def _declares_xhtml(markup: str) -> bool:
    """Whether the first start tag of ``markup`` declares the XHTML default namespace itself."""
    first = _TAG.match(markup)
    return first is not None and _DECLARES_XHTML.search(first.group(0)) is not None


def _skip(document: str, lt: int) -> int | None:
    """Where a comment, CDATA section, processing instruction or declaration at ``lt`` ends
    (-1 when it never does), or None when ``lt`` starts a tag."""
    for opening, closing in _SKIPPED:
        if document.startswith(opening, lt):
            end = document.find(closing, lt + len(opening))
            return -1 if end < 0 else end + len(closing)
    return None


def raw_divs(document: str) -> list[str | None]:
    """Each top-level ``<div>`` of ``document`` as written, in document order.

    ``None`` stands for a div whose text cannot stand alone as a JSON narrative (it does not
    declare the XHTML namespace itself); the caller serializes the parsed tree instead.

    One pass: the scan moves from one ``<`` to the next and never comes back, and the end of a
    comment, CDATA section or processing instruction is found with ``str.find`` from its
    start (a regex search for ``<!--.*?-->`` at every ``<!--`` of an unclosed run was
    quadratic: 80 KB of ``<!--`` inside a processing instruction took seconds).
    """
    found: list[str | None] = []
    pos = 0
    while (lt := document.find("<", pos)) >= 0:
        skipped = _skip(document, lt)
        if skipped is not None:
            if skipped < 0:
                break
            pos = skipped
            continue
        if _DIV_OPEN.match(document, lt):
            end = _element_end(document, lt)
            markup = document[lt:end]
            found.append(markup if _declares_xhtml(markup) else None)
            pos = end
            continue
        pos = lt + 1
    return found


def _element_end(document: str, start: int) -> int:
    """The end of the element whose start tag is at ``start`` (one pass, as :func:`raw_divs`)."""
    depth = 0
    pos = start
    while (lt := document.find("<", pos)) >= 0:
        skipped = _skip(document, lt)
        if skipped is not None:
            if skipped < 0:
                break
            pos = skipped
            continue
        tag = _TAG.match(document, lt)
        if tag is None:
            pos = lt + 1
            continue
        closing, empty = tag.group(1), tag.group(2)
        depth += -1 if closing else (0 if empty else 1)
        if depth == 0:
            return tag.end()
        pos = tag.end()
    return len(document)
