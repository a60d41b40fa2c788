"""Hardened XML parsing (FHIR R4 §2.6 xml.html, security.html "XML"; SPEC: "XML entities").

FHIR XML never needs a DTD, so a document that carries one is refused outright rather than
"defused": that closes entity expansion (billion laughs), external entities (file and network
reads) and DTD fetching at once.  The lxml parser is configured so that none of those would
run even before we look, and we reject the DOCTYPE after the parse.  (defusedxml's lxml module
is deprecated; these are the same safeguards, stated directly.)
"""

from __future__ import annotations

import threading

from lxml import etree

from fhir_server.core.errors import BadRequest

_local = threading.local()


def parser() -> etree.XMLParser:
    """This thread's parser: lxml parsers keep state and must not be shared across threads."""
    p = getattr(_local, "parser", None)
    if p is None:
        p = _local.parser = etree.XMLParser(
            resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
            huge_tree=False, remove_pis=True, collect_ids=False,
        )
    return p


def parse_document(data: bytes) -> etree._Element:
    """Parse ``data`` into its root element, or raise :class:`BadRequest`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        root = etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        raise BadRequest(f"Malformed XML: {exc.msg}", code="structure") from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise BadRequest("XML with a DOCTYPE (DTD, entity declarations) is not accepted", code="security")
    return root
