"""FHIR XML in and out (FHIR R4 §2.6 http://hl7.org/fhir/xml.html).

The public face of the XML format; the work is split by direction:

* :mod:`.xml_writer` — JSON-shaped resource → XML text, in definition order;
* :mod:`.xml_reader` — XML → JSON-shaped resource, with JSON types restored;
* :mod:`.xml_safety` — the hardened parser (no DTDs, no entities, no network);
* :mod:`.xhtml` — the narrative div, copied verbatim in both directions.

``xml_to_resource(resource_to_xml(r)) == r`` for every official R4 example (see
``tests/unit/formats/test_xml_roundtrip.py``).
"""

from __future__ import annotations

from .xml_reader import xml_to_resource
from .xml_writer import FHIR_NS, resource_to_xml

__all__ = ["FHIR_NS", "resource_to_xml", "xml_to_resource"]
