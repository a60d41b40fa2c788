"""Build the HL7 v2 → FHIR ConceptMaps in ``mappings/hl7v2/`` from readable tables.

Sources (the only place a mapping is typed):

- ``mappings/hl7v2/source/maps.csv`` — one row per map: id, title, source code system,
  target code system, the v2 field it serves;
- ``mappings/hl7v2/source/codes.csv`` — the code pairs of the standard v2 tables;
- ``mappings/hl7v2/source/local.csv`` — pairs whose v2 side is a local code (not in the
  standard table), each under its own local source system;
- ``mappings/hl7v2/source/lab-loinc.csv`` — a site's local laboratory codes (OBX-3 with a
  local coding system) → LOINC, one group per coding system (``hl7v2-lab-loinc``).

The v2 side of a standard row must exist in the official HL7 v2 tables
(``../shared/fhir-r4/v2-tables.json``), which also give the displays; the FHIR side must
exist in the target code system when that is an R4 code system (``valuesets.json``,
``v3-codesystems.json``).  A row that fails either check stops the build.

    python scripts/build_hl7v2_conceptmaps.py [--shared DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "mappings" / "hl7v2"
SOURCE = OUT / "source"
BASE = "https://jiayi.dev/fhir/ConceptMap/"
URI = "urn:ietf:rfc:3986"


def _concepts(concepts: list[dict], into: dict[str, str]) -> None:
    for concept in concepts:
        into[concept["code"]] = concept.get("display", "")
        _concepts(concept.get("concept", []), into)


def _code_systems(shared: Path) -> dict[str, dict[str, str]]:
    systems: dict[str, dict[str, str]] = {}
    for name in ("v2-tables.json", "valuesets.json", "v3-codesystems.json"):
        for entry in json.loads((shared / "fhir-r4" / name).read_text(encoding="utf-8"))["entry"]:
            resource = entry["resource"]
            if resource.get("resourceType") == "CodeSystem" and resource.get("concept"):
                codes: dict[str, str] = {}
                _concepts(resource["concept"], codes)
                systems.setdefault(resource["url"], {}).update(codes)
    return systems


def _rows(name: str) -> list[dict[str, str]]:
    with (SOURCE / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def build(shared: Path) -> list[Path]:
    systems = _code_systems(shared)
    problems: list[str] = []
    written = []
    codes, local = _rows("codes.csv"), _rows("local.csv")
    for spec in _rows("maps.csv"):
        map_id, source, target = spec["map"], spec["source"], spec["target"]
        source_codes = systems.get(source)
        if source_codes is None:
            problems.append(f"{map_id}: source code system {source} not in the official v2 tables")
            continue
        target_codes = systems.get(target) if target != URI else None
        groups: dict[str, list[dict]] = {}

        def element(code: str, display: str, target_code: str, equivalence: str, comment: str,
                    group_source: str, map_id=map_id, target=target, target_codes=target_codes,
                    groups=groups) -> None:
            if target_codes is not None and target_code not in target_codes:
                problems.append(f"{map_id}: {target_code!r} is not a code of {target}")
            item = {"code": target_code, "equivalence": equivalence}
            if target_codes is not None and target_codes.get(target_code):
                item["display"] = target_codes[target_code]
            if comment:
                item["comment"] = comment
            groups.setdefault(group_source, []).append(
                {"code": code, **({"display": display} if display else {}), "target": [item]})

        for row in codes:
            if row["map"] != map_id:
                continue
            code = row["source_code"]
            if code not in source_codes and code[:2] == "NN" and len(code) == 5 and "NNxxx" in source_codes:
                source_codes[code] = source_codes["NNxxx"].replace("xxx", code[2:])  # NNxxx: xxx = ISO 3166
            if code not in source_codes:
                problems.append(f"{map_id}: {code!r} is not a code of {source}")
                continue
            element(code, source_codes[code], row["target_code"], row["equivalence"], row["comment"], source)
        for row in local:
            if row["map"] == map_id:
                element(row["source_code"], row["source_display"], row["target_code"], row["equivalence"],
                        row["comment"], row["source_system"])
        concept_map = {
            "resourceType": "ConceptMap",
            "id": f"hl7v2-{map_id}",
            "url": f"{BASE}hl7v2-{map_id}",
            "version": "0.1.0",
            "name": "Hl7v2" + "".join(part.capitalize() for part in map_id.split("-")),
            "title": spec["title"],
            "status": "active",
            "experimental": False,
            "publisher": "Jiayi",
            "description": f"{spec['title']}; used by the HL7 v2 adapter for {spec['field']}. Built by "
                           f"scripts/build_hl7v2_conceptmaps.py from mappings/hl7v2/source/ (v2 side checked "
                           f"against the official HL7 v2 tables).",
            "sourceUri": source.replace("/CodeSystem/", "/ValueSet/"),
            "targetUri": target.replace("/CodeSystem/", "/ValueSet/") if target != URI else URI,
            "group": [{"source": group_source, "target": target, "element": elements}
                      for group_source, elements in groups.items()],
        }
        if target.startswith("http://hl7.org/fhir/") and "/CodeSystem/" not in target:
            concept_map["targetUri"] = "http://hl7.org/fhir/ValueSet/" + target.rsplit("/", 1)[1]
        path = OUT / f"ConceptMap-hl7v2-{map_id}.json"
        path.write_text(json.dumps(concept_map, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    written.append(_lab_loinc())
    if problems:
        sys.exit("\n".join(problems))
    return written


def _lab_loinc() -> Path:
    groups: dict[str, list[dict]] = {}
    for row in _rows("lab-loinc.csv"):
        source = "https://jiayi.dev/fhir/CodeSystem/hl7v2/" + row["coding_system"]
        target = {"code": row["loinc"], "display": row["loinc_display"], "equivalence": row["equivalence"]}
        if row["comment"]:
            target["comment"] = row["comment"]
        groups.setdefault(source, []).append({"code": row["code"], "display": row["display"], "target": [target]})
    concept_map = {
        "resourceType": "ConceptMap", "id": "hl7v2-lab-loinc", "url": f"{BASE}hl7v2-lab-loinc", "version": "0.1.0",
        "name": "Hl7v2LabLoinc", "title": "Local laboratory codes of HL7 v2 senders (OBX-3) to LOINC",
        "status": "active", "experimental": False, "publisher": "Jiayi",
        "description": "Local laboratory codes (OBX-3 with a local coding system, CWE-3) to LOINC; the adapter adds "
                       "the LOINC coding beside the code as sent. Built by scripts/build_hl7v2_conceptmaps.py from "
                       "mappings/hl7v2/source/lab-loinc.csv (a site lists its own codes there).",
        "sourceUri": URI, "targetUri": "http://loinc.org",
        "group": [{"source": source, "target": "http://loinc.org", "element": elements}
                  for source, elements in groups.items()],
    }
    path = OUT / "ConceptMap-hl7v2-lab-loinc.json"
    path.write_text(json.dumps(concept_map, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    for path in build(args.shared):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
