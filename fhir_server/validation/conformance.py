"""The profiles, extensions and value sets the validator knows, by canonical URL.

A :class:`Conformance` is built from conformance resources (the IG's StructureDefinitions,
ValueSets and CodeSystems, and any a caller supplies).  Base R4 resource profiles
(``http://hl7.org/fhir/StructureDefinition/Patient``) are always known: validating against
them is the base validation.  Compiled snapshots are cached per URL, so the write path
compiles each profile once per process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fhir_server.core import jsonio
from fhir_server.definitions.structures import structures
from fhir_server.validation.snapshot import Node, compile_snapshot
from fhir_server.validation.valuesets import ValueSets

BASE = "http://hl7.org/fhir/StructureDefinition/"
JIAYI = "https://jiayi.dev/fhir/StructureDefinition/"
KINDS = ("StructureDefinition", "ValueSet", "CodeSystem")
ANYWHERE = frozenset({"Element", "Resource", "DomainResource", "BackboneElement"})  # extension contexts


def canonical(url: str) -> str:
    return url.split("|")[0] if "|" in url else url


def base_type(url: str) -> str | None:
    """``http://hl7.org/fhir/StructureDefinition/Patient`` → ``Patient`` (any R4 type), else None."""
    url = canonical(url)
    if url.startswith(BASE):
        name = url[len(BASE):]
        if structures().is_resource_type(name) or structures().kind(name) is not None:
            return name
    return None


class UnknownProfile(LookupError):
    pass


class Conformance:
    def __init__(self, resources: Iterable[dict] = ()) -> None:
        self.structures: dict[str, dict] = {}
        listed = [r for r in _flatten(resources) if r.get("resourceType") in KINDS]
        self.resources = listed
        for r in listed:
            if r["resourceType"] == "StructureDefinition" and isinstance(r.get("url"), str):
                self.structures[canonical(r["url"])] = r
        self.value_sets = ValueSets(listed)
        self._compiled: dict[str, Node] = {}
        self._contexts: dict[int, tuple[tuple[object, ...], bool]] = {}
        # an extension is found by the url its instances carry: its fixed Extension.url, which may
        # differ from the StructureDefinition's own url (jiayi-contract-reference → SD/jiayi-contract)
        self._extensions: dict[str, dict] = {}
        for sd in self.structures.values():
            if sd.get("type") == "Extension":
                self._extensions.setdefault(instance_url(sd), sd)
                self._extensions.setdefault(canonical(sd["url"]), sd)

    @classmethod
    def from_directory(cls, directory: Path) -> Conformance:
        resources = []
        if directory.is_dir():
            for path in sorted(directory.rglob("*.json")):
                try:
                    resources.append(jsonio.loads(path.read_bytes()))
                except Exception:  # noqa: BLE001, S112 - a file that is not a resource is not part of the IG
                    continue
        return cls(resources)

    def knows(self, url: str) -> bool:
        return canonical(url) in self.structures or base_type(url) is not None

    def structure(self, url: str) -> dict | None:
        return self.structures.get(canonical(url))

    def type_of(self, url: str) -> str | None:
        """The resource or data type a profile constrains."""
        sd = self.structure(url)
        return sd.get("type") if sd else base_type(url)

    def compiled(self, url: str) -> Node | None:
        """The compiled snapshot of a (non-base) profile; None for base R4 types."""
        url = canonical(url)
        node = self._compiled.get(url)
        if node is None:
            sd = self.structures.get(url)
            if sd is None:
                if base_type(url) is not None:
                    return None
                raise UnknownProfile(url)
            node = compile_snapshot(sd)
            for n in node.walk():
                profiles = [p for t in n.types if t.code == "Extension" for p in t.profiles]
                ext = self.structure(profiles[0]) if profiles else None
                if ext is not None:
                    n.extension_url = instance_url(ext)
            self._compiled[url] = node
        return node

    def extension(self, url: str) -> dict | None:
        """The extension definition whose instances carry ``url``."""
        return self._extensions.get(canonical(url))

    def contexts(self, extension_sd: dict) -> tuple[tuple[object, ...], bool]:
        """The ``context`` expressions of an extension definition this conformance holds, and
        whether it may be used anywhere (no context, or one on Element, Resource, …): read once."""
        hit = self._contexts.get(id(extension_sd))
        if hit is None:
            contexts = tuple(c.get("expression") for c in extension_sd.get("context") or [] if isinstance(c, dict))
            hit = self._contexts[id(extension_sd)] = (contexts, not contexts or any(c in ANYWHERE for c in contexts))
        return hit


def instance_url(extension_sd: dict) -> str:
    """The ``url`` an instance of this extension carries: the fixed ``Extension.url``, else its own url."""
    for element in (extension_sd.get("snapshot") or {}).get("element") or []:
        if element.get("path") == "Extension.url" and element.get("id", "Extension.url") == "Extension.url":
            fixed = element.get("fixedUri")
            if isinstance(fixed, str):
                return fixed
    return canonical(extension_sd["url"])


def _flatten(resources: Iterable[object]) -> Iterable[dict]:
    for r in resources:
        if not isinstance(r, dict):
            continue
        if r.get("resourceType") == "Bundle":
            yield from _flatten(e.get("resource") for e in r.get("entry") or [] if isinstance(e, dict))
        else:
            yield r


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
