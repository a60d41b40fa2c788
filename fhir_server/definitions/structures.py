"""The R4 type system: resource types, data types and their element trees.

Loaded once from ``data/r4-elements.json`` (derived from the official StructureDefinitions
by ``scripts/generate_definitions.py``).  XML conversion, ``_summary``/``_elements`` and the
required-element check walk resources with :meth:`StructureRegistry.resolve`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
INLINE_TYPES = frozenset({"BackboneElement", "Element"})


@dataclass(frozen=True, slots=True)
class ElementDef:
    """One child element of a complex type or backbone element."""

    name: str  # as in the StructureDefinition, e.g. ``value[x]``
    path: str  # full path, e.g. ``Observation.value[x]``
    types: tuple[str, ...]
    min: int
    max: str
    summary: bool = False
    modifier: bool = False
    ref: str | None = None  # contentReference target path
    targets: tuple[str, ...] = ()
    xml_attr: bool = False
    binding: str | None = None  # the ValueSet of a required binding
    extensible: str | None = None  # the ValueSet of an extensible binding

    @property
    def is_array(self) -> bool:
        return self.max != "1"

    @property
    def is_choice(self) -> bool:
        return self.name.endswith("[x]")

    @property
    def base_name(self) -> str:
        return self.name[:-3] if self.is_choice else self.name

    def children_path(self, type_code: str) -> str:
        """The path whose children describe this element's content."""
        if self.ref:
            return self.ref
        if type_code in INLINE_TYPES:
            return self.path
        return type_code


@dataclass(frozen=True, slots=True)
class Resolved:
    """A JSON property resolved against its parent: the element, the concrete type, where its children are."""

    element: ElementDef
    type_code: str
    children_path: str


class StructureRegistry:
    def __init__(self, data: dict) -> None:
        self.fhir_version: str = data["fhirVersion"]
        self.resource_types: tuple[str, ...] = tuple(data["resourceTypes"])
        self._resource_set = frozenset(self.resource_types)
        self._types: dict[str, dict] = data["types"]
        self._children: dict[str, dict[str, ElementDef]] = {}
        self._json_keys: dict[str, dict[str, tuple[ElementDef, str]]] = {}
        for type_data in self._types.values():
            for parent, children in type_data["elements"].items():
                self._children[parent] = {
                    c["name"]: _element(parent, c) for c in children
                }

    def is_resource_type(self, name: str) -> bool:
        return name in self._resource_set

    def choice_names(self) -> frozenset[str]:
        """The names of every choice element (``value`` for ``value[x]``) anywhere in R4."""
        return frozenset(e.base_name for children in self._children.values() for e in children.values()
                         if e.is_choice)

    def is_primitive(self, type_code: str) -> bool:
        t = self._types.get(type_code)
        return t is not None and t["kind"] == "primitive-type"

    def kind(self, type_code: str) -> str | None:
        t = self._types.get(type_code)
        return t["kind"] if t else None

    def children(self, path: str) -> dict[str, ElementDef]:
        """Children of a type name (``HumanName``) or backbone path (``Patient.contact``), in order."""
        return self._children.get(path, {})

    def resolve(self, parent_path: str, json_key: str) -> Resolved | None:
        """Map a JSON property name (``valueQuantity``, ``name``) under ``parent_path`` to its element."""
        keys = self._json_keys.get(parent_path)
        if keys is None:
            keys = self._json_keys[parent_path] = self._key_table(parent_path)
        hit = keys.get(json_key)
        if hit is None:
            return None
        element, type_code = hit
        return Resolved(element, type_code, element.children_path(type_code))

    def json_keys(self, parent_path: str) -> dict[str, tuple[ElementDef, str]]:
        """Every JSON property name allowed under ``parent_path``, in definition order."""
        keys = self._json_keys.get(parent_path)
        if keys is None:
            keys = self._json_keys[parent_path] = self._key_table(parent_path)
        return keys

    def _key_table(self, parent_path: str) -> dict[str, tuple[ElementDef, str]]:
        table: dict[str, tuple[ElementDef, str]] = {}
        for element in self.children(parent_path).values():
            if element.is_choice:
                for code in element.types:
                    table[element.base_name + code[0].upper() + code[1:]] = (element, code)
            else:
                table[element.name] = (element, element.types[0] if element.types else "")
        return table


def _element(parent: str, c: dict) -> ElementDef:
    return ElementDef(
        name=c["name"],
        path=f"{parent}.{c['name']}",
        types=tuple(c["types"]),
        min=c["min"],
        max=c["max"],
        summary=c.get("summary", False),
        modifier=c.get("modifier", False),
        ref=c.get("ref"),
        targets=tuple(c.get("targets", ())),
        xml_attr="xmlAttr" in c.get("repr", ()),
        binding=c.get("binding"),
        extensible=c.get("extensible"),
    )


@cache
def structures() -> StructureRegistry:
    return StructureRegistry(json.loads((DATA / "r4-elements.json").read_text(encoding="utf-8")))
