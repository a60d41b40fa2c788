"""JSON resource → FHIR XML (FHIR R4 §2.6 xml.html, json.html "Representing primitive elements").

Driven entirely by the StructureRegistry: elements come out in definition order, primitives as
``<x value="..."/>`` merged with their JSON ``_x`` companion, ``Element.id`` and
``Extension.url`` as attributes, inline resources wrapped in an element named by their type.
We build the text directly rather than an lxml tree: it is faster, and it lets the narrative
div pass through untouched (see :mod:`fhir_server.formats.xhtml`).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from fhir_server.core.decimals import decimal_text
from fhir_server.core.errors import BadRequest
from fhir_server.definitions.structures import structures

from . import xhtml
from .xml_safety import parser
from .xml_slots import ATTRIBUTE, COMPLEX, PRIMITIVE, RESOURCE, XHTML, Slot, slots

FHIR_NS = "http://hl7.org/fhir"
MAX_DEPTH = 200  # far beyond any real resource; stops runaway recursion on hostile input
_ATTR_SPECIAL = re.compile(r'[&<>"\n\r\t]')
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def resource_to_xml(resource: dict, pretty: bool = False) -> bytes:
    """Serialize a JSON-shaped resource as FHIR XML (UTF-8, with an XML declaration)."""
    writer = _Writer(pretty)
    writer.out.append('<?xml version="1.0" encoding="UTF-8"?>' + writer.newline)
    writer.resource(resource, 0, root=True)
    return "".join(writer.out).encode("utf-8")


class _Writer:
    def __init__(self, pretty: bool) -> None:
        self.out: list[str] = []
        self.pretty = pretty
        self.newline = "\n" if pretty else ""
        self.registry = structures()

    def indent(self, depth: int) -> str:
        return "  " * depth if self.pretty else ""

    def line(self, depth: int, text: str) -> None:
        self.out.append(f"{self.indent(depth)}{text}{self.newline}" if self.pretty else text)

    def resource(self, resource: object, depth: int, root: bool = False, label: str = "") -> None:
        if not isinstance(resource, dict):
            raise BadRequest(f"'{label or 'root'}' must be a resource object", code="structure")
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not self.registry.is_resource_type(rtype):
            raise BadRequest(f"Unknown or missing resourceType at '{label or 'root'}'", code="structure")
        namespace = f' xmlns="{FHIR_NS}"' if root else ""
        self.line(depth, f"<{rtype}{namespace}>")
        self.content(resource, self.ordered(resource, rtype, label or rtype), depth + 1, label or rtype)
        self.line(depth, f"</{rtype}>")

    def content(self, obj: dict, entries: list[Slot], depth: int, label: str) -> None:
        """Write the child elements of ``obj`` (already put in order by :meth:`ordered`)."""
        if depth > MAX_DEPTH:
            raise BadRequest("Resource is nested too deeply", code="structure", expression=[label])
        for slot in entries:
            key = slot.key
            child_label = f"{label}.{key}"
            if slot.kind == PRIMITIVE:
                self.primitive(obj, slot, depth, child_label)
            elif slot.kind == COMPLEX:
                for item in _as_list(obj[key], slot, child_label):
                    if not isinstance(item, dict):
                        raise BadRequest(f"'{child_label}' must be an object", code="structure",
                                         expression=[child_label])
                    self.complex(key, item, slot.children, depth, child_label)
            elif slot.kind == RESOURCE:
                for item in _as_list(obj[key], slot, child_label):
                    self.line(depth, f"<{key}>")
                    self.resource(item, depth + 1, label=child_label)
                    self.line(depth, f"</{key}>")
            elif slot.kind == XHTML:
                self.div(obj[key], depth, child_label)
            # ATTRIBUTE slots were written on the start tag by open_tag()

    def ordered(self, obj: dict, path: str, label: str) -> list[Slot]:
        """The slots for the JSON properties of ``obj`` (``_x`` folded into ``x``), in XML order."""
        table = slots(path)
        found: dict[str, Slot] = {}
        for key in obj:
            base = key.removeprefix("_")
            if base in found or (base == "resourceType" and path == obj.get("resourceType")):
                continue
            slot = table.get(base)
            if slot is None or (key != base and slot.kind != PRIMITIVE):
                raise BadRequest(f"Unknown element '{label}.{key}'", code="structure",
                                 expression=[f"{label}.{key}"])
            found[base] = slot
        if len(found) < 2:
            return list(found.values())
        return sorted(found.values(), key=_position)

    def complex(self, key: str, item: dict, path: str, depth: int, label: str) -> None:
        start = self.open_tag(key, item, path, label)
        entries = self.ordered(item, path, label)
        if all(slot.kind == ATTRIBUTE for slot in entries):
            self.line(depth, f"{start}/>")
            return
        self.line(depth, f"{start}>")
        self.content(item, entries, depth + 1, label)
        self.line(depth, f"</{key}>")

    def open_tag(self, key: str, item: dict, path: str, label: str) -> str:
        """``<key`` plus the attributes (``id``, ``url``) that the definitions put on the tag."""
        parts = [f"<{key}"]
        table = slots(path)
        for name in ("id", "url"):
            slot = table.get(name)
            if slot is not None and slot.kind == ATTRIBUTE and name in item:
                parts.append(f' {name}="{_attr(item[name], f"{label}.{name}")}"')
        return "".join(parts)

    def primitive(self, obj: dict, slot: Slot, depth: int, label: str) -> None:
        key = slot.key
        values, extras = obj.get(key), obj.get("_" + key)
        if slot.is_array:
            values = _as_list(values, slot, label) if values is not None else [None] * len(extras or ())
            extras = _as_list(extras, slot, label) if extras is not None else [None] * len(values)
            if len(values) != len(extras):
                raise BadRequest(f"'{label}' and '_{key}' differ in length", code="structure",
                                 expression=[label])
        else:
            values, extras = [values], [extras]
        for value, extra in zip(values, extras, strict=True):
            if value is None and extra is None:
                raise BadRequest(f"'{label}' has a null with no extension", code="structure",
                                 expression=[label])
            self.one_primitive(key, value, extra, slot.type_code, depth, label)

    def one_primitive(self, key: str, value: object, extra: object, type_code: str, depth: int,
                      label: str) -> None:
        if not extra:
            if extra is not None and not isinstance(extra, dict):
                raise BadRequest(f"'_{key}' must be an object", code="structure", expression=[label])
            self.line(depth, f'<{key} value="{_attr(_lexical(value, type_code, label), label)}"/>')
            return
        if not isinstance(extra, dict):
            raise BadRequest(f"'_{key}' must be an object", code="structure", expression=[label])
        start = self.open_tag(key, extra, type_code, label)
        if value is not None:
            start += f' value="{_attr(_lexical(value, type_code, label), label)}"'
        entries = [slot for slot in self.ordered(extra, type_code, label) if slot.kind != ATTRIBUTE]
        if not entries:
            self.line(depth, f"{start}/>")
            return
        self.line(depth, f"{start}>")
        self.content(extra, entries, depth + 1, label)
        self.line(depth, f"</{key}>")

    def div(self, text: object, depth: int, label: str) -> None:
        if not isinstance(text, str):
            raise BadRequest(f"'{label}' must be a string", code="structure", expression=[label])
        self.line(depth, xhtml.div_for_xml(text, parser()))


def _position(slot: Slot) -> int:
    return slot.position


def _as_list(value: object, slot: Slot, label: str) -> list:
    if slot.is_array:
        if not isinstance(value, list):
            raise BadRequest(f"'{label}' must be an array", code="structure", expression=[label])
        return value
    return [value]


def _lexical(value: object, type_code: str, label: str) -> str:
    """The XML ``value`` attribute text for a JSON primitive."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return decimal_text(value)  # as read (FhirDecimal), else the shortest text of the float
    raise BadRequest(f"'{label}' is not a valid {type_code}", code="structure", expression=[label])


def _attr(value: object, label: str) -> str:
    text = value if isinstance(value, str) else _lexical(value, "value", label)
    if _NOT_XML.search(text):
        raise BadRequest(f"'{label}' holds characters that XML cannot carry", code="invalid",
                         expression=[label])
    return text.translate(_ATTR_ESCAPES) if _ATTR_SPECIAL.search(text) else text
