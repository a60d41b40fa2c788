"""What each JSON property becomes in FHIR XML (FHIR R4 §2.6 xml.html "XML Representation").

One :class:`Slot` per property allowed under a type or backbone path, computed once from the
StructureRegistry and shared by the reader and the writer, so that both sides agree on the
mapping and neither asks the registry the same questions element after element.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from fhir_server.definitions.structures import ElementDef, structures

ATTRIBUTE, XHTML, RESOURCE, PRIMITIVE, COMPLEX = "attribute", "xhtml", "resource", "primitive", "complex"


@dataclass(frozen=True, slots=True)
class Slot:
    key: str  # JSON property name, e.g. ``valueQuantity``
    position: int  # XML order among the parent's children
    element: ElementDef
    type_code: str
    kind: str  # ATTRIBUTE | XHTML | RESOURCE | PRIMITIVE | COMPLEX
    children: str  # the type or backbone path describing this element's content
    is_array: bool


@cache
def slots(path: str) -> dict[str, Slot]:
    """The slots under ``path`` (a type name or backbone path), in definition order."""
    registry = structures()
    table = {}
    for position, (key, (element, type_code)) in enumerate(registry.json_keys(path).items()):
        table[key] = Slot(key, position, element, type_code, _kind(element, type_code),
                          element.children_path(type_code), element.is_array)
    return table


def _kind(element: ElementDef, type_code: str) -> str:
    registry = structures()
    if element.xml_attr:
        return ATTRIBUTE
    if type_code == "xhtml":
        return XHTML
    # "Resource" is any resource; a resource type (Bundle.entry.response.outcome) is one in particular.
    if type_code == "Resource" or registry.kind(type_code) == "resource":
        return RESOURCE
    return PRIMITIVE if registry.is_primitive(type_code) else COMPLEX
