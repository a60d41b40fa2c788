"""The R4 core extensions wherever they appear (FHIR R4 extensibility.html; the 393 definitions
of ``extension-definitions.json``, derived into ``data/r4-extensions.json`` by
``scripts/generate_extension_definitions.py``).

An extension whose url is a core extension definition is checked against it: its context
(where it may be used: a resource, an element path or a data type), ``extension`` versus
``modifierExtension``, the type of its value, and, for a complex extension, its parts (the
required ones present, none more often than allowed, each value of its type, no relative url
the definition does not name).  Extensions on primitive values (``_birthDate.extension``) are
checked with the primitive element as their host.  In a definitional resource (StructureDefinition,
ValueSet, CodeSystem, …) a context mismatch is a warning: R4's own definitions use the tooling
extensions outside their declared contexts.  A top-level extension url must be absolute
(extensibility.html: relative urls only name the parts of a complex extension).  An extension
nobody here defines (not core, not known to ``is_known``: the IG and extra profiles, whose
extensions :mod:`.extensions` checks) is a warning when ``is_known`` is given ($validate,
``jiayi validate``): unknown extensions may be used, they are only not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import INLINE_TYPES, structures

DATA = Path(__file__).parent / "data"
EXTENSION_KEYS = ("extension", "modifierExtension")
RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
ANYWHERE = frozenset({"Element", "Resource", "DomainResource", "BackboneElement"})
# R4's own definitions use its tooling extensions (normative-version, regex, concept-comments) outside
# their declared contexts: there, a context mismatch is a warning
DEFINITIONAL = frozenset({"StructureDefinition", "ValueSet", "CodeSystem", "OperationDefinition", "SearchParameter",
                          "CapabilityStatement", "ImplementationGuide", "ConceptMap", "NamingSystem",
                          "CompartmentDefinition", "StructureMap", "GraphDefinition", "MessageDefinition",
                          "TerminologyCapabilities"})
QUANTITIES = frozenset({"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_INDEX = re.compile(r"\[\d+\]")


@cache
def definitions() -> dict[str, dict]:
    return json.loads((DATA / "r4-extensions.json").read_text(encoding="utf-8"))["extensions"]


def core_extension_issues(resource: dict, where: str, is_known: Callable[[str], bool] | None = None,
                          holders: set[int] | None = None) -> list[Issue]:
    """Every issue of the core extensions used in ``resource`` (and its nested resources); with
    ``is_known``, a warning for each extension url that neither R4 nor ``is_known`` defines.
    ``holders``: :func:`extension_holders` of ``resource``, when the caller has it."""
    if holders is None:
        holders = extension_holders(resource)
    if id(resource) not in holders:
        return []
    check = _Check(resource.get("resourceType") in DEFINITIONAL, is_known, holders)
    res_type = str(resource.get("resourceType"))
    check.walk(resource, res_type, res_type, res_type, where, res_type)
    return check.issues


def extension_holders(node: object) -> set[int]:
    """The ids of the objects and arrays in ``node`` (itself included) that have an ``extension``
    or ``modifierExtension`` somewhere inside: the walks over extensions skip the rest (issue 19)."""
    out: set[int] = set()
    mark_holders(node, out)
    return out


def mark_holders(node: object, out: set[int]) -> bool:
    """Add to ``out`` the ids of :func:`extension_holders` in ``node``; True when ``node`` is one
    (the structure walk marks the objects it enters itself, and the others by this)."""
    if isinstance(node, dict):
        has = "extension" in node or "modifierExtension" in node
        for value in node.values():
            if isinstance(value, (dict, list)) and mark_holders(value, out):
                has = True
    elif isinstance(node, list):
        has = False
        for value in node:
            if isinstance(value, (dict, list)) and mark_holders(value, out):
                has = True
    else:
        return False
    if has:
        out.add(id(node))
    return has


def _value_type(key: str, allowed: list[str]) -> bool:
    suffix = key[len("value"):]
    return suffix in allowed or suffix[:1].lower() + suffix[1:] in allowed


class _Check:
    def __init__(self, definitional: bool, is_known: Callable[[str], bool] | None, holders: set[int]) -> None:
        self.definitional = definitional
        self.holders = holders
        self.is_known = is_known
        self.registry = structures()
        self.table = definitions()
        self.issues: list[Issue] = []

    def add(self, message: str, where: str, severity: str = "error") -> None:
        self.issues.append(Issue("structure", message, severity=severity, expression=(where,)))

    def walk(self, node: dict, path: str, host_path: str, host_type: str, where: str, logical: str) -> None:
        """``node`` is described by ``path``; it is the element ``host_path`` of type ``host_type``."""
        keys = self.registry.json_keys(path)
        holders = self.holders
        for key, value in node.items():
            if id(value) not in holders and key not in EXTENSION_KEYS:
                continue  # no extension inside: nothing to check
            items = value if isinstance(value, list) else [value]
            if key in EXTENSION_KEYS:
                for i, ext in enumerate(items):
                    if isinstance(ext, dict):
                        self.extension(ext, key, f"{where}.{key}[{i}]", host_path, host_type, logical, top=True)
                continue
            if key.startswith("_"):
                hit = keys.get(key[1:])
                if hit is not None:
                    element, type_code = hit
                    for i, item in enumerate(items):
                        loc = f"{where}.{key}[{i}]" if isinstance(value, list) else f"{where}.{key}"
                        if isinstance(item, dict):
                            self.walk(item, "Element", element.path, type_code, loc, f"{logical}.{key[1:]}")
                continue
            hit = keys.get(key)
            if hit is None:
                continue
            element, type_code = hit
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                loc = f"{where}.{key}[{i}]" if isinstance(value, list) else f"{where}.{key}"
                if type_code in RESOURCE_TYPES:
                    inner = item.get("resourceType")
                    if isinstance(inner, str) and self.registry.is_resource_type(inner):
                        self.walk(item, inner, inner, inner, loc, inner)
                elif element.ref is not None or type_code in INLINE_TYPES:
                    # a recursive element (PlanDefinition.action.action) also goes by its contentReference target
                    host = f"{element.path}|{element.ref}" if element.ref else element.path
                    self.walk(item, element.children_path(type_code), host, "BackboneElement", loc,
                              f"{logical}.{key}")
                else:
                    self.walk(item, type_code, element.path, type_code, loc, f"{logical}.{key}")

    def extension(self, ext: dict, key: str, where: str, host_path: str, host_type: str, logical: str,
                  top: bool) -> None:
        url = ext.get("url")
        if not isinstance(url, str):
            return
        if top and not _SCHEME.match(url):
            self.add(f"Extension url '{url}' must be an absolute URL (only the parts of a complex extension "
                     "have relative urls)", f"{where}.url")
            return
        spec = self.table.get(url)
        if spec is None and top and self.is_known is not None and not self.is_known(url):
            self.add(f"Extension {url} is not defined by R4 or this server's profiles: it was not checked",
                     where, "warning")
        if spec is not None:
            self.context(spec, url, where, host_path, host_type, logical)
            self.modifier(spec, url, key, where)
            self.content(spec, url, ext, where)
        for i, inner in enumerate(_list(ext.get("extension"))):
            inner_url = inner.get("url") if isinstance(inner, dict) else None
            if isinstance(inner_url, str) and inner_url in self.table:  # a core extension on an extension
                self.extension(inner, "extension", f"{where}.extension[{i}]", "Extension", "Extension", "Extension",
                               top=False)

    def context(self, spec: dict, url: str, where: str, host_path: str, host_type: str, logical: str) -> None:
        contexts = spec["context"]
        logical = _INDEX.sub("", logical)
        names = {*host_path.split("|"), host_type, logical}
        if not contexts or any(c in ANYWHERE or c in names for c in contexts):
            return
        if host_type in QUANTITIES and "Quantity" in contexts:
            return
        if any(c.startswith(name + ".") for c in contexts for name in host_path.split("|")):
            return  # on the parent of its context element: R4's own snapshots put structuredefinition-fhir-type
            # (context ElementDefinition.type.code) on ElementDefinition.type
        self.add(f"Extension {url} is not allowed on {logical} ({host_type}): R4 defines it for "
                 f"{', '.join(contexts)}", where, "warning" if self.definitional else "error")

    def modifier(self, spec: dict, url: str, key: str, where: str) -> None:
        if spec["modifier"] and key == "extension":
            self.add(f"Extension {url} is a modifier extension: it goes in modifierExtension", where)
        elif not spec["modifier"] and key == "modifierExtension":
            self.add(f"Extension {url} is not a modifier extension: it goes in extension", where)

    def content(self, spec: dict, url: str, ext: dict, where: str) -> None:
        values = [k for k in ext if k.startswith("value")]
        for k in values:
            if not spec["value"]:
                self.add(f"Extension {url} has no value of its own (it is made of parts: "
                         f"{', '.join(spec['parts']) or 'none'})", f"{where}.{k}")
            elif not _value_type(k, spec["value"]):
                self.add(f"Extension {url} takes a value of type {', '.join(spec['value'])}, not {k[5:]}",
                         f"{where}.{k}")
        parts = spec["parts"]
        if not parts:
            return
        counts: dict[str, int] = {}
        for i, inner in enumerate(_list(ext.get("extension"))):
            if not isinstance(inner, dict) or not isinstance(inner.get("url"), str):
                continue
            name, loc = inner["url"], f"{where}.extension[{i}]"
            if name not in parts:
                if not _SCHEME.match(name):
                    self.add(f"'{name}' is not a part of extension {url} (its parts: {', '.join(parts)})", loc)
                continue
            counts[name] = counts.get(name, 0) + 1
            allowed = parts[name][2]
            for k in (k for k in inner if k.startswith("value")):
                if allowed and not _value_type(k, allowed):
                    self.add(f"Part '{name}' of extension {url} takes a value of type {', '.join(allowed)}, "
                             f"not {k[5:]}", f"{loc}.{k}")
        for name, (low, high, _types) in parts.items():
            count = counts.get(name, 0)
            if count < low:
                self.add(f"Extension {url} needs its part '{name}' (at least {low})", where)
            if high != "*" and count > int(high):
                self.add(f"Extension {url} has part '{name}' {count} times (at most {high})", where)


def _list(value: object) -> list:
    """An array property's items; [] for anything else (a wrong JSON type is the schema's to report)."""
    return value if isinstance(value, list) else []
