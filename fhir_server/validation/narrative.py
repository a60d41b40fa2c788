"""``Narrative.div`` on write and in ``$validate`` (FHIR R4 narrative.html#xhtml, txt-1, txt-2).

The div is parsed as XML (lxml without DTDs, entities or network, as every XML the server
reads) and checked:

- it is well-formed XHTML: one ``<div>`` in the ``http://www.w3.org/1999/xhtml`` namespace,
  every element in that namespace (otherwise every later ``_format=xml`` read of the resource
  would fail);
- txt-1: only the basic HTML formatting elements and attributes R4 allows (the list the FHIR
  reference validator applies: HTML 4.0 chapters 7-11 and 15, ``<a>`` with ``href``/``name``,
  images, ``style`` attributes);
- txt-2: some non-whitespace content (text, or an image); a warning only, since official R4
  examples carry an empty ``<pre>``;
- **active content** is refused with issue type ``security``: ``<script>``, ``<iframe>``,
  ``<frame>``, ``<form>`` and its controls, ``<base>``, ``<meta>``, ``<link>``, ``<object>``,
  ``<embed>``, ``<applet>``, ``<style>``; event-handler attributes (``on*``); ``javascript:``,
  ``vbscript:`` and ``data:text/html`` URLs.  This is the stored-XSS guard: narratives are
  served verbatim to clients that render them;
- a link (``<a href>``) has a scheme a reader can follow (http, https, ftp, mailto, tel) or
  none (relative, ``#fragment``): ``urn:uuid:…`` names a resource, it is not a link (the
  reference validator refuses it; fhir-test-cases ``message``).

Each issue names its location (``Patient.text.div``) and, in the message, the element.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from fhir_server.core.errors import Issue

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XHTML = "{" + XHTML_NS + "}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

ELEMENTS = frozenset({
    "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong", "small",
    "big", "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr", "address", "bdo", "kbd",
    "sub", "sup", "ul", "ol", "li", "dl", "dt", "dd", "pre", "table", "caption", "colgroup", "col", "thead",
    "tr", "tfoot", "tbody", "th", "td", "code", "samp", "img", "map", "area",
})
ACTIVE_ELEMENTS = frozenset({
    "script", "noscript", "iframe", "frame", "frameset", "form", "input", "button", "select", "textarea",
    "base", "meta", "link", "object", "embed", "applet", "param", "style", "svg", "math", "template",
})
GLOBAL_ATTRIBUTES = frozenset({"title", "style", "class", "id", "lang", "xml:lang", "dir", "accesskey", "tabindex"})
CELL = frozenset({"abbr", "axis", "headers", "scope", "rowspan", "colspan", "align", "valign", "char",
                  "charoff", "width", "height", "nowrap", "bgcolor"})
ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "name", "rel", "rev", "shape", "coords", "hreflang", "type", "charset"}),
    "img": frozenset({"src", "alt", "height", "width", "usemap", "ismap", "longdesc", "border", "align"}),
    "table": frozenset({"summary", "width", "border", "frame", "rules", "cellspacing", "cellpadding", "align",
                        "bgcolor"}),
    "td": CELL, "th": CELL,
    "tr": frozenset({"align", "valign", "char", "charoff", "bgcolor"}),
    "thead": frozenset({"align", "valign", "char", "charoff"}),
    "tbody": frozenset({"align", "valign", "char", "charoff"}),
    "tfoot": frozenset({"align", "valign", "char", "charoff"}),
    "col": frozenset({"span", "width", "align", "valign", "char", "charoff"}),
    "colgroup": frozenset({"span", "width", "align", "valign", "char", "charoff"}),
    "ol": frozenset({"start", "type", "compact"}),
    "ul": frozenset({"type", "compact"}),
    "li": frozenset({"value", "type"}),
    "q": frozenset({"cite"}), "blockquote": frozenset({"cite"}),
    "map": frozenset({"name"}),
    "area": frozenset({"shape", "coords", "href", "alt", "nohref"}),
    "pre": frozenset({"width"}),
    "p": frozenset({"align"}), "div": frozenset({"align"}),
    "h1": frozenset({"align"}), "h2": frozenset({"align"}), "h3": frozenset({"align"}),
    "h4": frozenset({"align"}), "h5": frozenset({"align"}), "h6": frozenset({"align"}),
    "hr": frozenset({"align", "noshade", "size", "width"}),
    "br": frozenset({"clear"}),
    "caption": frozenset({"align"}),
}
URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc", "usemap"})
# the schemes a reader can follow from a narrative link (a relative or #fragment link has none)
HYPERLINK_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "tel"})
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.\-]*):")
_ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "data:image/svg")
MAX_ISSUES = 20

_local = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser: no DTD, no entity resolution, no network (lxml parsers are not shared)."""
    p = getattr(_local, "parser", None)
    if p is None:
        p = _local.parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True,
                                            dtd_validation=False, huge_tree=False, collect_ids=False)
    return p


def narrative_issues(div: str, where: str) -> list[Issue]:
    """Every problem with the narrative ``div`` at ``where`` ([] when it is acceptable)."""
    try:
        root = etree.fromstring(div.encode("utf-8"), _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        return [Issue("structure", f"Narrative div is not well-formed XHTML: {_reason(exc)}", expression=(where,))]
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return [Issue("security", "Narrative div must not carry a DOCTYPE", expression=(where,))]
    if root.tag != _XHTML + "div":
        return [Issue("structure", "Narrative div must be a <div> element in the XHTML namespace "
                      f"(xmlns=\"{XHTML_NS}\"), found <{_shown(root.tag)}>", expression=(where,))]
    issues: list[Issue] = []
    for elem in root.iter():
        if len(issues) >= MAX_ISSUES:
            break
        issues.extend(_element_issues(elem, where))
    if not issues and not _has_content(root):
        # a warning: official R4 examples (Questionnaire-zika-virus-exposure-assessment) have an empty <pre>
        issues.append(Issue("invariant", "Constraint txt-2 failed: the narrative must have some non-whitespace "
                            "content", severity="warning", expression=(where,)))
    return issues


def _element_issues(elem: etree._Element, where: str) -> list[Issue]:
    tag = elem.tag
    if tag is etree.Comment:
        return []
    if tag is etree.PI:
        return [Issue("structure", "Narrative div must not contain processing instructions", expression=(where,))]
    if not isinstance(tag, str):
        return [Issue("security", "Narrative div must not contain entity references", expression=(where,))]
    name = tag[len(_XHTML):] if tag.startswith(_XHTML) else None
    if name is None:
        return [Issue("structure", f"Element <{_shown(tag)}> in the narrative is not in the XHTML namespace",
                      expression=(where,))]
    if name in ACTIVE_ELEMENTS:
        return [Issue("security", f"Active content is not allowed in a narrative: <{name}>", expression=(where,))]
    issues = []
    if name not in ELEMENTS:
        issues.append(Issue("invariant", f"Constraint txt-1 failed: <{name}> is not one of the basic HTML "
                            "formatting elements a narrative may contain", expression=(where,)))
    allowed = ATTRIBUTES.get(name, frozenset())
    for key, value in elem.attrib.items():
        attr = "xml:lang" if key == _XML_LANG else key
        lowered = attr.lower()
        if key == _XML_SPACE:
            if value != "preserve":  # XHTML fixes xml:space to "preserve" (legal, if discouraged)
                issues.append(Issue("invariant", f"Constraint txt-1 failed: xml:space on <{name}> can only be "
                                    f"'preserve', not '{value}'", expression=(where,)))
        elif lowered.startswith("on"):
            issues.append(Issue("security", f"Event handler attribute {attr} on <{name}> is not allowed in a "
                                "narrative", expression=(where,)))
        elif _active_url(value) and (lowered in URL_ATTRIBUTES or lowered == "style"):
            issues.append(Issue("security", f"Active URL in {attr} of <{name}> is not allowed in a narrative",
                                expression=(where,)))
        elif lowered == "href" and _unfollowable(value):
            issues.append(Issue("invariant", f"The link '{value[:80]}' of <{name}> has a scheme a reader cannot "
                                f"follow (allowed: {', '.join(sorted(HYPERLINK_SCHEMES))}, or a relative link)",
                                expression=(where,)))
        elif lowered == "style" and _active_style(value):
            issues.append(Issue("security", f"Active content in the style of <{name}> is not allowed in a "
                                "narrative", expression=(where,)))
        elif attr not in GLOBAL_ATTRIBUTES and attr not in allowed:
            issues.append(Issue("invariant", f"Constraint txt-1 failed: attribute {_shown(attr)} is not allowed "
                                f"on <{name}> in a narrative", expression=(where,)))
    return issues


def _active_url(value: str) -> bool:
    """``javascript:`` and friends, also when hidden by case, whitespace or control characters."""
    compact = "".join(ch for ch in value if ch > " " and ch != "\x7f").lower()
    return any(scheme in compact for scheme in _ACTIVE_SCHEMES)


def _unfollowable(value: str) -> bool:
    found = _SCHEME.match(value)
    return found is not None and found.group(1).lower() not in HYPERLINK_SCHEMES


def _active_style(value: str) -> bool:
    compact = "".join(ch for ch in value if not ch.isspace()).lower()
    return "expression(" in compact or "javascript:" in compact or "behavior:" in compact or "-moz-binding" in compact


def _has_content(root: etree._Element) -> bool:
    if str(root.xpath("string()")).strip():  # text only: comments do not count
        return True
    return any(e.tag == _XHTML + "img" for e in root.iter())


def _shown(tag: str) -> str:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return f"{local} xmlns={ns}"
    return tag


def _reason(exc: Exception) -> str:
    message = getattr(exc, "msg", None) or str(exc)
    return message.split(" (line ")[0] if isinstance(message, str) else str(message)
