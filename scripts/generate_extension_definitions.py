"""Derive a compact table of the R4 core extension definitions for the validator
(``fhir_server/validation/data/r4-extensions.json``).

Reads ``../shared/fhir-r4/extension-definitions.json`` (393 StructureDefinitions) and keeps, per
extension url, what the validator checks (FHIR R4 extensibility.html, defining-extensions.html)::

    {"http://hl7.org/fhir/StructureDefinition/patient-animal": {
        "context": ["Patient"],          # where it may be used (element contexts)
        "modifier": false,               # a modifierExtension?
        "value": [],                     # the value[x] types; [] when it has no value (complex)
        "parts": {"species": [1, "1", ["CodeableConcept"]], ...}}}   # sub-extensions: min, max, value types

A user's install has no shared/, so the derived file is committed; run again when the source
changes:  ``python scripts/generate_extension_definitions.py [--source DIR]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_server" / "validation" / "data" / "r4-extensions.json"
NOTE = ("Derived by scripts/generate_extension_definitions.py from the official FHIR R4 4.0.1 extension "
        "definitions (HL7, CC0).")


def _types(element: dict | None) -> list[str]:
    if element is None or element.get("max") == "0":
        return []
    return [t["code"] for t in element.get("type", [])]


def describe(sd: dict) -> dict:
    elements = {e["id"]: e for e in sd["snapshot"]["element"]}
    parts: dict[str, list] = {}
    for element in sd["snapshot"]["element"]:
        name = element.get("sliceName")
        if element["id"] != f"Extension.extension:{name}" or name is None:
            continue
        url = elements.get(f"{element['id']}.url", {}).get("fixedUri", name)
        value = elements.get(f"{element['id']}.value[x]")
        parts[url] = [element.get("min", 0), element.get("max", "*"), _types(value)]
    return {
        "context": sorted({c["expression"] for c in sd.get("context", []) if c.get("type") == "element"}),
        "modifier": bool(elements["Extension"].get("isModifier")),
        "value": _types(elements.get("Extension.value[x]")),
        "parts": parts,
    }


def extensions(source: Path) -> dict[str, dict]:
    bundle = json.loads((source / "extension-definitions.json").read_text(encoding="utf-8"))
    return {e["resource"]["url"]: describe(e["resource"]) for e in bundle["entry"]
            if e["resource"]["resourceType"] == "StructureDefinition"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "fhir-r4")
    args = parser.parse_args()
    data = {"note": NOTE, "extensions": extensions(args.source)}
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True), encoding="utf-8")
    print(f"{OUT}: {len(data['extensions'])} extension definitions")


if __name__ == "__main__":
    main()
