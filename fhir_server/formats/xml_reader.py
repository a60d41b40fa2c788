"""FHIR XML → JSON resource (FHIR R4 §2.6 xml.html, json.html "Representing primitive elements").

The inverse of :mod:`fhir_server.formats.xml_writer`, driven by the same StructureRegistry:
each element name is resolved against its parent's definition (unknown names are refused with
their path), ``value`` attributes get their JSON types back, ``id``/``extension`` on a
primitive become the ``_x`` companion (with ``null`` placeholders in repeating primitives),
and the resource type comes from the element name.
"""

from __future__ import annotations

import re
from typing import NoReturn

from lxml import etree

from fhir_server.core.decimals import exact_number
from fhir_server.core.errors import BadRequest
from fhir_server.definitions.structures import structures

from . import xhtml
from .xml_safety import parse_document
from .xml_slots import ATTRIBUTE, COMPLEX, PRIMITIVE, RESOURCE, XHTML, Slot, slots

FHIR = "{http://hl7.org/fhir}"
XHTML_DIV = "{" + xhtml.XHTML_NS + "}div"
_FHIR_LEN = len(FHIR)
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt"})


def xml_to_resource(data: bytes) -> dict:
    """Parse a FHIR XML document into its JSON form; :class:`BadRequest` if it is not one."""
    root = parse_document(data)
    return _Reader(data, root).resource(root, "")


class _Reader:
    def __init__(self, data: bytes | str, root: etree._Element) -> None:
        self.registry = structures()
        self.data = data
        self.root = root
        self.raw: list[str | None] | None = None  # narrative divs as written, filled on first use
        self.divs_read = 0

    def resource(self, elem: etree._Element, label: str) -> dict:
        tag = elem.tag
        if not tag.startswith(FHIR):
            raise BadRequest(f"Element <{_local(tag)}> at '{label or 'root'}' is not in the FHIR namespace "
                             f"http://hl7.org/fhir", code="structure", expression=[label or _local(tag)])
        rtype = tag[len(FHIR):]
        if not self.registry.is_resource_type(rtype):
            raise BadRequest(f"Unknown resource type '{rtype}'", code="structure",
                             expression=[label or rtype])
        _no_attributes(elem, label or rtype)
        resource = {"resourceType": rtype}
        self.children(elem, rtype, resource, label or rtype)
        return resource

    def children(self, elem: etree._Element, path: str, obj: dict, label: str) -> None:
        """Read the child elements of ``elem`` (type or backbone ``path``) into ``obj``."""
        _no_text(elem.text, label)
        table = slots(path)
        repeating: list[str] = []
        for child in elem:
            tag = child.tag
            _no_text(child.tail, label)
            if not isinstance(tag, str):
                continue  # comments
            slot = _slot_for(tag, table, label)
            key = slot.key
            where = f"{label}.{key}"
            if slot.is_array and key not in obj and "_" + key not in obj:
                repeating.append(key)
            kind = slot.kind
            if kind == PRIMITIVE:
                self.primitive(child, slot, obj, where)
                continue
            value: dict | str
            if kind == COMPLEX:
                value = {}
                _attributes(child, slots(slot.children), value, where)
                self.children(child, slot.children, value, where)
            elif kind == RESOURCE:
                value = self.inline_resource(child, where)
            else:
                value = self.div(child)
            if slot.is_array:
                obj.setdefault(key, []).append(value)
            elif key in obj:
                raise BadRequest(f"'{where}' may occur only once", code="structure", expression=[where])
            else:
                obj[key] = value
        for key in repeating:
            _tidy_primitive_arrays(obj, key)

    def primitive(self, elem: etree._Element, slot: Slot, obj: dict, label: str) -> None:
        key, type_code = slot.key, slot.type_code
        extra: dict = {}
        value = None
        for name, text in elem.items():
            if name == "value":
                value = _json_value(text, type_code, label)
            elif name == "id":
                extra["id"] = text
            elif name[0] != "{":
                raise BadRequest(f"Unknown attribute '{name}' on '{label}'", code="structure",
                                 expression=[label])
        self.children(elem, type_code, extra, label)
        if value is None and not extra:
            raise BadRequest(f"'{label}' has neither a value nor extensions", code="structure",
                             expression=[label])
        if slot.is_array:
            obj.setdefault(key, []).append(value)
            obj.setdefault("_" + key, []).append(extra or None)
            return
        if key in obj or "_" + key in obj:
            raise BadRequest(f"'{label}' may occur only once", code="structure", expression=[label])
        if value is not None:
            obj[key] = value
        if extra:
            obj["_" + key] = extra

    def inline_resource(self, elem: etree._Element, label: str) -> dict:
        _no_attributes(elem, label)
        _no_text(elem.text, label)
        inner = [c for c in elem if isinstance(c.tag, str)]
        if len(inner) != 1:
            raise BadRequest(f"'{label}' must hold exactly one resource", code="structure",
                             expression=[label])
        _no_text(inner[0].tail, label)
        return self.resource(inner[0], label)

    def div(self, elem: etree._Element) -> str:
        """The narrative as the client wrote it, or re-serialized when it cannot be cut out."""
        if self.raw is None:
            self.raw = _raw_divs(self.data, self.root)
        self.divs_read += 1
        raw = self.raw[self.divs_read - 1] if self.raw else None
        return raw if raw is not None else xhtml.canonical(elem)


def _slot_for(tag: str, table: dict[str, Slot], label: str) -> Slot:
    """The slot for a child element's tag, or :class:`BadRequest` naming the element's path."""
    key = tag[_FHIR_LEN:] if tag.startswith(FHIR) else ("div" if tag == XHTML_DIV else None)
    slot = table.get(key) if key else None
    if slot is None or slot.kind == ATTRIBUTE or (slot.kind == XHTML) != (tag == XHTML_DIV):
        _bad_element(tag, key, label)
    return slot


def _bad_element(tag: str, key: str | None, label: str) -> NoReturn:
    where = f"{label}.{key or _local(tag)}"
    if key == "div":
        message = f"'{where}' must be in the XHTML namespace {xhtml.XHTML_NS}"
    elif key is None:
        message = f"Element '{where}' is in the wrong namespace ({_namespace(tag)})"
    else:
        message = f"Unknown element '{where}'"
    raise BadRequest(message, code="structure", expression=[where])


def _raw_divs(data: bytes | str, root: etree._Element) -> list[str | None]:
    """The narrative divs as written in the source, or ``[]`` if they cannot be matched up."""
    expected = sum(1 for d in root.iter(XHTML_DIV) if d.getparent().tag.startswith(FHIR))
    try:
        text = data if isinstance(data, str) else data.decode(root.getroottree().docinfo.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return []
    found = xhtml.raw_divs(text)
    return found if len(found) == expected else []


def _attributes(elem: etree._Element, table: dict[str, Slot], into: dict, label: str) -> None:
    """Copy ``id``/``url`` attributes (those the definitions mark as XML attributes) into ``into``."""
    for name, text in elem.items():
        if name[0] == "{":
            continue  # xsi:schemaLocation and friends
        slot = table.get(name)
        if slot is None or slot.kind != ATTRIBUTE:
            raise BadRequest(f"Unknown attribute '{name}' on '{label}'", code="structure",
                             expression=[label])
        into[name] = text


def _no_attributes(elem: etree._Element, label: str) -> None:
    """Resource elements and their wrappers carry no attributes (namespaced ones aside)."""
    for name in elem.keys():  # noqa: SIM118 - lxml elements iterate over children, not attributes
        if name[0] != "{":
            raise BadRequest(f"Unknown attribute '{name}' on '{label}'", code="structure",
                             expression=[label])


def _no_text(text: str | None, label: str) -> None:
    if text and not text.isspace():
        raise BadRequest(f"Text content is not allowed in '{label}' (FHIR XML uses value attributes)",
                         code="structure", expression=[label])


def _tidy_primitive_arrays(obj: dict, key: str) -> None:
    """Drop a primitive array, or its ``_`` companion, when every entry is null."""
    for name in (key, "_" + key):
        if name in obj and all(v is None for v in obj[name]):
            del obj[name]


def _json_value(text: str, type_code: str, label: str) -> object:
    """The JSON value for an XML ``value`` attribute of a primitive of type ``type_code``."""
    if type_code == "boolean":
        if text in ("true", "false"):
            return text == "true"
    elif type_code in _INTEGER_TYPES:
        if _INTEGER.match(text.strip()):
            return int(text)
    elif type_code == "decimal":
        if _DECIMAL.match(text.strip()):
            # As the JSON parser: integer syntax stays int, anything else keeps its text (precision)
            return int(text) if _INTEGER.match(text.strip()) else exact_number(text.strip())
    else:
        return text
    raise BadRequest(f"'{text}' is not a valid {type_code} at '{label}'", code="invalid",
                     expression=[label])


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else "no namespace"
