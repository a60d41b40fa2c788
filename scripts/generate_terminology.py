"""Derive the compact official R4 terminology file used at run time (fhir_server/terminology/data/r4-terminology.json).

    python scripts/generate_terminology.py [--fhir-dir ../shared/fhir-r4]

From the official valuesets.json and v3-codesystems.json: every CodeSystem as
``[url, content, [[code, display, [children...]], ...]]`` and every ValueSet as ``[url, compose]``.
(The HL7 v2 tables are left out: the v2 adapter carries its own mappings.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_server" / "terminology" / "data" / "r4-terminology.json"


def tree(concepts: list[dict]) -> list:
    return [[c["code"], c.get("display"), tree(c.get("concept", []))] if c.get("concept")
            else [c["code"], c.get("display")] for c in concepts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fhir-dir", default=str(ROOT.parent / "shared" / "fhir-r4"))
    fhir = Path(parser.parse_args().fhir_dir)
    systems, value_sets = {}, {}
    for name in ("valuesets.json", "v3-codesystems.json"):
        for entry in json.loads((fhir / name).read_text(encoding="utf-8"))["entry"]:
            r = entry["resource"]
            if r["resourceType"] == "CodeSystem" and r.get("concept"):
                systems.setdefault(r["url"], [r["url"], r.get("content", "complete"), tree(r["concept"])])
            elif r["resourceType"] == "ValueSet" and r.get("compose"):
                value_sets.setdefault(r["url"], [r["url"], r.get("name"), r["compose"]])
    data = {"source": "HL7 FHIR R4 4.0.1 valuesets.json + v3-codesystems.json",
            "codeSystems": [systems[k] for k in sorted(systems)],
            "valueSets": [value_sets[k] for k in sorted(value_sets)]}
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(systems)} code systems, {len(value_sets)} value sets")


if __name__ == "__main__":
    main()
