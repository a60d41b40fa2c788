"""Derive the FHIRPath invariants of FHIR R4 for the validator (``fhir_server/validation/data/``).

Reads ``../shared/fhir-r4/profiles-resources.json`` and ``profiles-types.json`` and writes
``r4-invariants.json``: for every resource and complex data type, the invariants it defines
itself (not those inherited from ``DomainResource``/``Element``, which are listed once under
those names), keyed by element path::

    {"Patient.contact": [["pat-1", "error", "name.exists() or ...", "SHALL at least ..."]], ...}

A user's install has no shared/, so the derived file is committed; run again when the source
changes:  ``python scripts/generate_invariants.py [--source DIR]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_server" / "validation" / "data" / "r4-invariants.json"
NOTE = "Derived by scripts/generate_invariants.py from the official FHIR R4 4.0.1 definitions (HL7, CC0)."


def _definitions(path: Path) -> list[dict]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "StructureDefinition"]


def invariants(source: Path) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for sd in _definitions(source / "profiles-types.json") + _definitions(source / "profiles-resources.json"):
        if sd.get("derivation") == "constraint" or sd["kind"] == "primitive-type" or sd["kind"] == "logical":
            continue
        for element in sd["snapshot"]["element"]:
            own = [c for c in element.get("constraint", [])
                   if c.get("source", sd["url"]) == sd["url"] and "expression" in c]
            if own:
                out.setdefault(element["path"], []).extend(
                    [c["key"], c["severity"], c["expression"], c.get("human", "")] for c in own)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "fhir-r4")
    args = parser.parse_args()
    data = {"note": NOTE, "invariants": invariants(args.source)}
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True), encoding="utf-8")
    print(f"{OUT}: {sum(len(v) for v in data['invariants'].values())} invariants")


if __name__ == "__main__":
    main()
