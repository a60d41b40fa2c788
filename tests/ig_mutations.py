"""Broken copies of an example instance, derived from its profile's snapshot: for each kind of
constraint the profile puts on a top-level element (or a top-level extension), one mutation
that breaks exactly that constraint, with the issue code and location the validator must report.

Used on every profile of the IG in profiles/ (tests/unit/validation/test_ig.py) and on the
small test profiles, so the tests follow the IG as it grows, with no list per profile.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from fhir_server.validation.conformance import Conformance
from fhir_server.validation.slicing import matches
from fhir_server.validation.snapshot import Discriminator, Node

JIAYI = "https://jiayi.dev/fhir/"
URL = (Discriminator("value", "url"),)


@dataclass(frozen=True)
class Mutation:
    kind: str  # cardinality | fixed | pattern | slice | binding | reference | extension
    what: str  # the element, for the test id
    broken: dict
    code: str
    expression: str


def _keys(resource: dict, node: Node) -> list[str]:
    if node.name.endswith("[x]"):
        base = node.name[:-3]
        return [k for k in resource if k.startswith(base) and k[len(base):][:1].isupper()]
    return [node.name] if node.name in resource else []


def _loc(rtype: str, key: str, value: object) -> str:
    return f"{rtype}.{key}[0]" if isinstance(value, list) else f"{rtype}.{key}"


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def mutations(conformance: Conformance, root: Node, example: dict) -> list[Mutation]:
    rtype = example["resourceType"]
    out: list[Mutation] = []
    for name, node in root.all_children().items():
        keys = _keys(example, node)
        if not keys:
            continue
        key = keys[0]
        value = example[key]
        if node.min >= 1 and node.min > node.base_min:
            broken = copy.deepcopy(example)
            for k in keys:
                broken.pop(k, None)
                broken.pop("_" + k, None)
            out.append(Mutation("cardinality", name, broken, "required", f"{rtype}.{name.removesuffix('[x]')}"))
        for kind, fixed in (("fixed", node.fixed), ("pattern", node.pattern)):
            if fixed is None:
                continue
            broken = copy.deepcopy(example)
            wrong: object = "mutated-value" if isinstance(fixed[1], str) else {"text": "mutated"}
            if isinstance(fixed[1], bool):
                wrong = not fixed[1]
            if isinstance(broken[key], list):
                broken[key][0] = wrong
            else:
                broken[key] = wrong
            out.append(Mutation(kind, name, broken, "value", _loc(rtype, key, value)))
        if node.binding and node.binding[0] == "required" and node.binding[1].startswith(JIAYI) \
                and conformance.value_sets.codes(node.binding[1]):
            broken = copy.deepcopy(example)
            if _set_code(broken, key):
                out.append(Mutation("binding", name, broken, "code-invalid", _loc(rtype, key, value)))
        targets = [p for t in node.types if t.code == "Reference" for p in t.target_profiles]
        item = _first(value)
        if targets and isinstance(item, dict) and isinstance(item.get("reference"), str) \
                and all(conformance.type_of(p) not in (None, "Resource", "Basic") for p in targets):
            broken = copy.deepcopy(example)
            target = _first(broken[key])
            assert isinstance(target, dict)
            target["reference"] = "Basic/mutated"
            target.pop("type", None)
            out.append(Mutation("reference", name, broken, "structure", _loc(rtype, key, value)))
        out += _slices(conformance, node, example, key, rtype)
    out += _extensions(conformance, example, rtype)
    return out


def _set_code(resource: dict, key: str) -> bool:
    value = resource[key]
    holder = value if not isinstance(value, list) else value[0]
    if isinstance(holder, str):
        if isinstance(value, list):
            value[0] = "mutated-code"
        else:
            resource[key] = "mutated-code"
        return True
    if isinstance(holder, dict):
        codings = holder.get("coding") if "coding" in holder else [holder] if "code" in holder else []
        for c in codings:
            c["code"] = "mutated-code"
        return bool(codings)
    return False


def _slices(conformance: Conformance, node: Node, example: dict, key: str, rtype: str) -> list[Mutation]:
    if not node.slices or not isinstance(example.get(key), list):
        return []
    discriminators = node.slicing.discriminators if node.slicing and node.slicing.discriminators else URL
    out = []
    for s in node.slices:
        if s.min < 1:
            continue
        def hit(item: object, s: Node = s) -> bool:
            return matches(item, "", s, discriminators, lambda _v: None, lambda _v, _p: False)
        kept = [item for item in example[key] if not hit(item)]
        if len(kept) == len(example[key]):
            continue
        broken = copy.deepcopy(example)
        if kept:
            broken[key] = copy.deepcopy(kept)
        else:
            del broken[key]
        out.append(Mutation("slice", s.id, broken, "required", f"{rtype}.{node.name}"))
    return out


def _extensions(conformance: Conformance, example: dict, rtype: str) -> list[Mutation]:
    out = []
    for i, ext in enumerate(example.get("extension") or []):
        url = ext.get("url", "")
        if not url.startswith(JIAYI):
            continue
        broken = copy.deepcopy(example)
        broken["extension"][i]["url"] = JIAYI + "StructureDefinition/jiayi-no-such-extension"
        out.append(Mutation("extension", url.rsplit("/", 1)[-1], broken, "structure", f"{rtype}.extension[{i}]"))
        sd = conformance.extension(url)
        root = conformance.compiled(url) if sd else None
        value_node = root.child("value[x]") if root else None
        value_key = next((k for k in ext if k.startswith("value")), None)
        if value_node and value_key and value_node.binding and value_node.binding[0] == "required" \
                and conformance.value_sets.codes(value_node.binding[1]):
            broken = copy.deepcopy(example)
            if _set_code(broken["extension"][i], value_key):
                out.append(Mutation("binding", url.rsplit("/", 1)[-1], broken, "code-invalid",
                                    f"{rtype}.extension[{i}].{value_key}"))
        if value_node and value_key and value_node.type_codes and "string" not in value_node.type_codes:
            broken = copy.deepcopy(example)
            del broken["extension"][i][value_key]
            broken["extension"][i]["valueString"] = "mutated"
            out.append(Mutation("extension-value", url.rsplit("/", 1)[-1], broken, "structure",
                                f"{rtype}.extension[{i}].valueString"))
    return out
