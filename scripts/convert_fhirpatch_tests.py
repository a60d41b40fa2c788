"""Convert the official FHIRPath Patch test cases (XML) into JSON test data.

One-off converter for ``r4/patch/fhir-patch-tests.xml`` from the public repository
FHIR/fhir-test-cases (Apache-2.0).  Each ``<case>`` becomes one JSON file under
``tests/data/fhirpath-patch/`` holding ``name``, ``mode``, ``input``, ``diff`` and either
``output`` or ``error``.  The project's own XML format module did not exist when the cases
were converted, so this script carries a minimal FHIR XML → JSON mapping (FHIR R4
xml.html → json.html), driven by the structure registry so
arrays, primitive JSON types and ``_x`` extension companions come out right.

    python scripts/convert_fhirpatch_tests.py path/to/fhir-patch-tests.xml [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhir_server.definitions.structures import structures

ROOT = Path(__file__).resolve().parent.parent
FHIR_NS = "{http://hl7.org/fhir}"
OUT = ROOT / "tests" / "data" / "fhirpath-patch"
NUMBER_TYPES = {"integer", "positiveInt", "unsignedInt", "decimal"}


def _primitive(type_code: str, text: str):
    """JSON type of a primitive value (FHIR R4 json.html#primitive): booleans and numbers are not strings."""
    if type_code == "boolean":
        return text == "true"
    if type_code == "decimal":
        return float(text) if re.search(r"[.eE]", text) else int(text)
    if type_code in NUMBER_TYPES:
        return int(text)
    return text


def _elements(node) -> list:
    # Comments (e.g. "MRN assigned by ACME") are not content.
    return [c for c in node if isinstance(c.tag, str)]


def _resource(node) -> dict:
    name = etree.QName(node).localname
    out: dict = {"resourceType": name}
    _fill(out, node, name)
    return out


def _fill(out: dict, node, path: str) -> None:
    """Copy attributes and child elements of ``node`` into the JSON object ``out``."""
    reg = structures()
    for attr, value in node.attrib.items():
        if attr in ("id", "url"):  # the only FHIR XML attributes besides value
            out[attr] = value
    for child in _elements(node):
        key = etree.QName(child).localname
        hit = reg.resolve(path, key)
        if hit is None:
            raise ValueError(f"unknown element {key!r} under {path}")
        value, companion = _value(child, hit.type_code, hit.children_path)
        if hit.element.is_array:
            _append(out, key, value, companion)
        else:
            if value is not None:
                out[key] = value
            if companion:
                out["_" + key] = companion


def _value(node, type_code: str, children_path: str):
    """(JSON value, companion object or None) for one element."""
    reg = structures()
    if type_code == "xhtml":
        node.tail = None
        return etree.tostring(node, encoding=str), None
    if type_code == "Resource":
        return _resource(_elements(node)[0]), None
    if reg.is_primitive(type_code):
        raw = node.get("value")
        companion: dict = {}
        _fill(companion, node, "Element")
        return (None if raw is None else _primitive(type_code, raw)), (companion or None)
    obj: dict = {}
    _fill(obj, node, children_path)
    return obj, None


def _append(out: dict, key: str, value, companion) -> None:
    """Append to a repeating element, keeping the ``_key`` array aligned with ``key``."""
    values = out.setdefault(key, [])
    values.append(value)
    if companion or "_" + key in out:
        comps = out.setdefault("_" + key, [None] * (len(values) - 1))
        comps.append(companion)


def convert(xml_path: Path) -> list[dict]:
    tree = etree.parse(str(xml_path))
    cases = []
    for case in tree.getroot().iter("case"):
        item: dict = {"name": case.get("name"), "mode": case.get("mode")}
        for part in ("input", "diff", "output"):
            holder = case.find(part)
            if holder is not None:
                item[part] = _resource(_elements(holder)[0])
        error = case.find("error")
        if error is not None:
            item["error"] = error.get("msg")
        cases.append(item)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xml", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for number, case in enumerate(convert(args.xml), start=1):
        slug = re.sub(r"[^a-z0-9]+", "-", case["name"].lower()).strip("-")
        target = args.out / f"{number:02d}-{slug}.json"
        target.write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)


if __name__ == "__main__":
    main()
