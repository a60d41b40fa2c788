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

from fhir_server.core.errors import BadRequest
from fhir_server.definitions.structures import ElementDef, structures

from . import xhtml
from .xml_safety import parser

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

    def resource(self, resource: object, depth: int, root: bool = False, label: str = "") -> None:
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(rtype, str) or not self.registry.is_resource_type(rtype):
            raise BadRequest(f"Unknown or missing resourceType at '{label or 'root'}'", code="structure")
        namespace = f' xmlns="{FHIR_NS}"' if root else ""
        self.out.append(f"{self.indent(depth)}<{rtype}{namespace}>{self.newline}")
        self.content(resource, rtype, depth + 1, label or rtype)
        self.out.append(f"{self.indent(depth)}</{rtype}>{self.newline}")

    def content(self, obj: dict, path: str, depth: int, label: str,
                entries: list[tuple[str, ElementDef, str]] | None = None) -> None:
        """Write the child elements of ``obj`` (whose type or backbone path is ``path``), in order."""
        if depth > MAX_DEPTH:
            raise BadRequest("Resource is nested too deeply", code="structure", expression=[label])
        for key, element, type_code in entries if entries is not None else self.ordered(obj, path, label):
            if element.xml_attr:
                continue  # written on the start tag by open_tag()
            child_label = f"{label}.{key}"
            if type_code == "xhtml":
                self.div(obj[key], depth, child_label)
            elif type_code == "Resource" or self.registry.kind(type_code) == "resource":
                for item in _as_list(obj[key], element):
                    self.out.append(f"{self.indent(depth)}<{key}>{self.newline}")
                    self.resource(item, depth + 1, label=child_label)
                    self.out.append(f"{self.indent(depth)}</{key}>{self.newline}")
            elif self.registry.is_primitive(type_code):
                self.primitive(obj, key, element, type_code, depth, child_label)
            else:
                children = element.children_path(type_code)
                for item in _as_list(obj[key], element):
                    if not isinstance(item, dict):
                        raise BadRequest(f"'{child_label}' must be an object", code="structure",
                                         expression=[child_label])
                    self.complex(key, item, children, depth, child_label)

    def ordered(self, obj: dict, path: str, label: str) -> list[tuple[str, ElementDef, str]]:
        """The JSON properties of ``obj`` (``_x`` folded into ``x``) in definition order."""
        table = self.registry.json_keys(path)
        order = _positions(path, table)
        found: dict[str, tuple[int, ElementDef, str]] = {}
        for key in obj:
            base = key[1:] if key.startswith("_") else key
            if base in found or (base == "resourceType" and self.registry.is_resource_type(path)):
                continue
            hit = table.get(base)
            if hit is None or (key != base and (hit[0].xml_attr or not self.registry.is_primitive(hit[1]))):
                raise BadRequest(f"Unknown element '{label}.{key}'", code="structure",
                                 expression=[f"{label}.{key}"])
            found[base] = (order[base], hit[0], hit[1])
        return [(k, e, t) for k, (_, e, t) in sorted(found.items(), key=lambda kv: kv[1][0])]

    def complex(self, key: str, item: dict, path: str, depth: int, label: str) -> None:
        start = self.open_tag(key, item, path, label)
        entries = self.ordered(item, path, label)
        if all(e.xml_attr for _, e, _ in entries):
            self.out.append(f"{self.indent(depth)}{start}/>{self.newline}")
            return
        self.out.append(f"{self.indent(depth)}{start}>{self.newline}")
        self.content(item, path, depth + 1, label, entries)
        self.out.append(f"{self.indent(depth)}</{key}>{self.newline}")

    def open_tag(self, key: str, item: dict, path: str, label: str) -> str:
        """``<key`` plus the attributes (``id``, ``url``) that the definitions put on the tag."""
        parts = [f"<{key}"]
        table = self.registry.json_keys(path)
        for name in ("id", "url"):
            hit = table.get(name)
            if hit is not None and hit[0].xml_attr and name in item:
                parts.append(f' {name}="{_attr(item[name], f"{label}.{name}")}"')
        return "".join(parts)

    def primitive(self, obj: dict, key: str, element: ElementDef, type_code: str, depth: int,
                  label: str) -> None:
        values, extras = obj.get(key), obj.get("_" + key)
        if element.is_array:
            values = _as_list(values, element) if values is not None else [None] * len(extras or ())
            extras = _as_list(extras, element) if extras is not None else [None] * len(values)
            if len(values) != len(extras):
                raise BadRequest(f"'{label}' and '_{key}' differ in length", code="structure",
                                 expression=[label])
        else:
            values, extras = [values], [extras]
        for value, extra in zip(values, extras):
            if value is None and extra is None:
                raise BadRequest(f"'{label}' has a null with no extension", code="structure",
                                 expression=[label])
            self.one_primitive(key, value, extra, type_code, depth, label)

    def one_primitive(self, key: str, value: object, extra: object, type_code: str, depth: int,
                      label: str) -> None:
        if extra is not None and not isinstance(extra, dict):
            raise BadRequest(f"'_{key}' must be an object", code="structure", expression=[label])
        extra = extra or {}
        start = self.open_tag(key, extra, type_code, label) if extra else f"<{key}"
        if value is not None:
            start += f' value="{_attr(_lexical(value, type_code, label), label)}"'
        if not any(k != "id" for k in extra):
            self.out.append(f"{self.indent(depth)}{start}/>{self.newline}")
            return
        self.out.append(f"{self.indent(depth)}{start}>{self.newline}")
        self.content(extra, type_code, depth + 1, label)
        self.out.append(f"{self.indent(depth)}</{key}>{self.newline}")

    def div(self, text: object, depth: int, label: str) -> None:
        if not isinstance(text, str):
            raise BadRequest(f"'{label}' must be a string", code="structure", expression=[label])
        self.out.append(f"{self.indent(depth)}{xhtml.div_for_xml(text, parser())}{self.newline}")


_POSITIONS: dict[str, dict[str, int]] = {}


def _positions(path: str, table: dict) -> dict[str, int]:
    order = _POSITIONS.get(path)
    if order is None:
        order = _POSITIONS[path] = {key: i for i, key in enumerate(table)}
    return order


def _as_list(value: object, element: ElementDef) -> list:
    if element.is_array:
        if not isinstance(value, list):
            raise BadRequest(f"'{element.path}' must be an array", code="structure")
        return value
    return [value]


def _lexical(value: object, type_code: str, label: str) -> str:
    """The XML ``value`` attribute text for a JSON primitive."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)  # shortest text that reads back as the same float
    raise BadRequest(f"'{label}' is not a valid {type_code}", code="structure", expression=[label])


def _attr(value: object, label: str) -> str:
    text = value if isinstance(value, str) else _lexical(value, "value", label)
    if _NOT_XML.search(text):
        raise BadRequest(f"'{label}' holds characters that XML cannot carry", code="invalid",
                         expression=[label])
    return text.translate(_ATTR_ESCAPES) if _ATTR_SPECIAL.search(text) else text
