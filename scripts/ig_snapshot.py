"""Snapshot generation for the Jiayi IG: base snapshot + differential → snapshot (FHIR R4 profiling rules).

A small, deterministic generator covering what the IG uses: constraining existing elements
(cardinality, fixed/pattern values, bindings, types and target profiles, invariants),
slicing (extension slices by url, identifier slices by system) and constraining children of
slices or of complex-typed elements, which are expanded from the data type's own snapshot.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

R4 = "http://hl7.org/fhir/StructureDefinition/"


class BaseDefinitions:
    """The official R4 StructureDefinitions, by URL (resources, data types, core extensions)."""

    def __init__(self, fhir_dir: Path) -> None:
        self.by_url: dict[str, dict] = {}
        self.operations: dict[str, dict] = {}
        for name in ("profiles-types.json", "profiles-resources.json", "extension-definitions.json"):
            bundle = json.loads((fhir_dir / name).read_text(encoding="utf-8"))
            for entry in bundle["entry"]:
                res = entry["resource"]
                if res.get("resourceType") == "OperationDefinition":
                    self.operations[res["id"]] = res
                if res.get("resourceType") == "StructureDefinition" and res.get("fhirVersion", "4.0.1") == "4.0.1":
                    self.by_url.setdefault(res["url"], res)

    def type_sd(self, code: str) -> dict:
        return self.by_url[R4 + code]


def _parent_id(element_id: str) -> str:
    return element_id.rsplit(".", 1)[0]


def _unsliced(element_id: str) -> str:
    """``Patient.identifier:idCard.system`` → ``Patient.identifier.system`` (the path)."""
    return ".".join(part.split(":", 1)[0] for part in element_id.split("."))


def _is_within(element_id: str, root: str) -> bool:
    return element_id == root or element_id.startswith((root + ".", root + ":"))


class Snapshot:
    """A mutable snapshot: ordered elements with an id index."""

    def __init__(self, base_sd: dict, defs: BaseDefinitions, url: str) -> None:
        self.elements: list[dict] = copy.deepcopy(base_sd["snapshot"]["element"])
        self.defs = defs
        self.url = url
        for el in self.elements:  # base constraints keep their source; mustSupport is ours to say
            el.pop("mustSupport", None)

    def _find(self, element_id: str) -> int | None:
        for i, el in enumerate(self.elements):
            if el["id"] == element_id:
                return i
        return None

    def _end_of(self, root: str) -> int:
        """Index just after ``root`` and everything within it (children and slices)."""
        start = self._find(root)
        assert start is not None, root
        i = start + 1
        while i < len(self.elements) and _is_within(self.elements[i]["id"], root):
            i += 1
        return i

    def ensure(self, element_id: str) -> dict:
        """The snapshot element ``element_id``, creating slices and expanding type children as needed."""
        found = self._find(element_id)
        if found is not None:
            return self.elements[found]
        last = element_id.rsplit(".", 1)[-1]
        if ":" in last:  # a new slice of an existing element
            sliced_id = element_id[: -len(last)] + last.split(":", 1)[0]
            sliced = self.ensure(sliced_id)
            new = copy.deepcopy(sliced)
            new.pop("slicing", None)
            new["id"], new["sliceName"], new["min"] = element_id, last.split(":", 1)[1], 0
            self.elements.insert(self._end_of(sliced_id), new)
            return new
        parent_id = _parent_id(element_id)
        parent = self.ensure(parent_id)
        self._expand(parent)
        found = self._find(element_id)
        if found is None:
            raise KeyError(f"{self.url}: no element {element_id}")
        return self.elements[found]

    def _expand(self, parent: dict) -> None:
        """Insert the children of a complex-typed element from its data type's snapshot."""
        pid = parent["id"]
        if any(el["id"].startswith(pid + ".") for el in self.elements):
            return
        types = [t["code"] for t in parent.get("type", [])]
        if len(types) != 1:
            raise KeyError(f"{self.url}: cannot expand {pid} of types {types}")
        type_elements = self.defs.type_sd(types[0])["snapshot"]["element"]
        children = []
        for el in type_elements[1:]:
            child = copy.deepcopy(el)
            rest = el["id"].split(".", 1)[1]
            child["id"] = f"{pid}.{rest}"
            child["path"] = f"{parent['path']}.{el['path'].split('.', 1)[1]}"
            child.pop("mustSupport", None)
            children.append(child)
        at = self._end_of(pid)
        self.elements[at:at] = children

    def apply(self, diff: dict) -> None:
        el = self.ensure(diff["id"])
        for key, value in diff.items():
            if key in ("id", "path"):
                continue
            if key == "constraint":
                existing = {c["key"] for c in el.get("constraint", [])}
                el["constraint"] = el.get("constraint", []) + [
                    {**c, "source": self.url} for c in value if c["key"] not in existing]
            elif key.startswith(("fixed", "pattern")):
                for other in [k for k in el if k.startswith(("fixed", "pattern"))]:
                    del el[other]
                el[key] = copy.deepcopy(value)
            else:
                el[key] = copy.deepcopy(value)


def generate(base_sd: dict, differential: list[dict], defs: BaseDefinitions, url: str) -> list[dict]:
    """The snapshot elements of a profile whose differential is ``differential``."""
    snap = Snapshot(base_sd, defs, url)
    for diff in differential:
        snap.apply(diff)
    for el in snap.elements:
        el["path"] = _unsliced(el["id"])
    return snap.elements
