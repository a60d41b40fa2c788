"""A StructureDefinition snapshot compiled into a tree the validator walks (FHIR R4
elementdefinition.html; profiling.html §slicing).

Each :class:`Node` is one ``ElementDefinition``: cardinality (and the base's, so only what a
profile tightens is reported again), types with their profiles and target profiles,
``fixed[x]``/``pattern[x]``, binding, invariants, slicing and its slices.  The tree follows
the element ids (``Patient.identifier:idcard.system``): a slice's children hang under the
slice; children a slice does not restate are taken from the sliced element
(:meth:`Node.child`).  Compiled once per profile and cached by the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir_server.validation.invariants import Invariant

CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class TypeRef:
    code: str
    profiles: tuple[str, ...] = ()
    target_profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Discriminator:
    type: str  # value | pattern | type | profile | exists
    path: str


@dataclass(frozen=True, slots=True)
class Slicing:
    discriminators: tuple[Discriminator, ...]
    rules: str  # open | closed | openAtEnd


@dataclass(eq=False, slots=True)
class Node:
    id: str
    path: str
    name: str
    slice_name: str | None
    min: int
    max: int | None  # None: unbounded
    base_min: int
    base_max: int | None
    types: tuple[TypeRef, ...]
    fixed: tuple[str, object] | None
    pattern: tuple[str, object] | None
    binding: tuple[str, str] | None  # (strength, value set canonical)
    invariants: tuple[Invariant, ...]
    label: str
    slicing: Slicing | None = None
    children: dict[str, Node] = field(default_factory=dict)
    slices: list[Node] = field(default_factory=list)
    sliced: Node | None = None  # for a slice: the element it slices
    owner: str = ""  # for an extension's elements: the extension's id, so messages say which one
    extension_url: str | None = None  # for an extension slice: the url its instances carry (set by the registry)
    own_invariants: tuple[Invariant, ...] | None = None  # computed once by the profile check
    plan: Any = None  # what the profile check derives from this node, once (node_plan.py: NodePlan)

    def walk(self):
        yield self
        for child in self.children.values():
            yield from child.walk()
        for s in self.slices:
            yield from s.walk()

    def child(self, name: str) -> Node | None:
        hit = self.children.get(name)
        if hit is None and self.sliced is not None:
            return self.sliced.child(name)
        return hit

    def all_children(self) -> dict[str, Node]:
        if self.sliced is None:
            return self.children
        return {**self.sliced.all_children(), **self.children}

    @property
    def type_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.types)

    @property
    def shown(self) -> str:
        """``Patient.identifier:idcard (居民身份证号)``: the element as a message names it."""
        where = f"{self.id} of extension {self.owner}" if self.owner else self.id
        return f"{where} ({self.label})" if self.label else where


def _max(text: object) -> int | None:
    return None if text in (None, "*") else int(str(text))


def _prefixed(element: dict, prefix: str) -> tuple[str, object] | None:
    for key, value in element.items():
        if key.startswith(prefix) and key[len(prefix):][:1].isupper():
            return key, value
    return None


def _label(element: dict) -> str:
    """The Chinese field name when the profile gives one (label, else short)."""
    for key in ("label", "short"):
        text = element.get(key)
        if isinstance(text, str) and CJK.search(text):
            return text
    return ""


def _node(element: dict) -> Node:
    path = element["path"]
    eid = element.get("id") or path
    last = eid.rsplit(".", 1)[-1]
    name, _, slice_name = last.partition(":")
    base = element.get("base") or {}
    slicing = element.get("slicing")
    binding = element.get("binding") or {}
    return Node(
        id=eid, path=path, name=name, slice_name=slice_name or None,
        min=int(element.get("min", 0)), max=_max(element.get("max", "*")),
        base_min=int(base.get("min", element.get("min", 0))), base_max=_max(base.get("max", element.get("max", "*"))),
        types=tuple(TypeRef(t.get("code", ""), tuple(t.get("profile", ())), tuple(t.get("targetProfile", ())))
                    for t in element.get("type", ())),
        fixed=_prefixed(element, "fixed"), pattern=_prefixed(element, "pattern"),
        binding=(binding["strength"], binding["valueSet"]) if binding.get("valueSet") else None,
        invariants=tuple(Invariant(c["key"], c.get("severity", "error"), c["expression"], c.get("human", ""))
                         for c in element.get("constraint", ()) if c.get("expression")),
        label=_label(element),
        slicing=Slicing(tuple(Discriminator(d["type"], d["path"]) for d in slicing.get("discriminator", ())),
                        slicing.get("rules", "open")) if slicing else None,
    )


def compile_snapshot(structure: dict) -> Node:
    """The root :class:`Node` of ``structure``'s snapshot (ValueError when it has none)."""
    elements = (structure.get("snapshot") or {}).get("element") or []
    if not elements:
        raise ValueError(f"StructureDefinition {structure.get('url')} has no snapshot")
    by_id: dict[str, Node] = {}
    root: Node | None = None
    owner = str(structure.get("id") or structure.get("url", "")) if structure.get("type") == "Extension" else ""
    for element in elements:
        node = _node(element)
        node.owner = owner
        by_id[node.id] = node
        if "." not in node.id:
            root = node
            continue
        parent = by_id.get(node.id[: node.id.rfind(".")])
        if parent is None:
            continue  # an element whose parent the snapshot skipped: nothing to hang it on
        if node.slice_name is not None:
            sliced = parent.children.get(node.name)
            if sliced is None:
                continue
            node.sliced = sliced
            sliced.slices.append(node)
        else:
            parent.children[node.name] = node
    if root is None:
        raise ValueError(f"StructureDefinition {structure.get('url')} has no root element")
    return root
