"""Derive the server's run-time FHIR R4 tables from the official definitions.

Reads ``../shared/fhir-r4/`` (FHIR R4 4.0.1, see its SOURCE.md) and writes compact files
into ``fhir_server/definitions/data/``.  A user's install has no shared/, so the derived
files are committed; run this script again when the source changes:

    python scripts/generate_definitions.py [--source DIR]

Outputs:
- ``r4-elements.json``: every resource and data type, its element tree (child name, types,
  cardinality, summary flag, order), so XML, ``_summary`` and required-element checks are
  driven by the standard rather than by hand-written tables.
- ``fhir.schema.json``: the official R4 JSON Schema, minified.
- ``search-parameters.json``: the 1,378 standard SearchParameters, trimmed to the fields
  the search engine uses.
- ``compartment-patient.json``: the Patient CompartmentDefinition.
- ``required-bindings.json``: for each ValueSet named by a required-strength binding in the
  base resources and data types, its codes per system, when the ValueSet can be expanded
  from ``valuesets.json`` alone (explicit concepts or whole, complete CodeSystems; no
  filters) and is small; the validator checks those bindings and skips the others.
- ``extensible-bindings.json``: the same for extensible-strength bindings; a coded value outside
  one of these is a warning (terminologies.html#extensible), never an error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fhir_server" / "definitions" / "data"
SOURCE_NOTE = "Derived by scripts/generate_definitions.py from the official FHIR R4 4.0.1 definitions (HL7, CC0)."
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


def _entries(path: Path, resource_type: str) -> list[dict]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def _type_codes(element: dict) -> list[str]:
    codes = []
    for t in element.get("type", []):
        code = t["code"]
        if code.startswith("http://hl7.org/fhirpath/System."):
            # the value of a primitive, or Element.id / Extension.url: declared by an extension
            code = next((x["valueUrl"] for x in t.get("extension", []) if x["url"] == FHIR_TYPE_EXT), "string")
        codes.append(code)
    return codes


def _targets(element: dict) -> list[str]:
    out: list[str] = []
    for t in element.get("type", []):
        for profile in t.get("targetProfile", []):
            out.append(profile.rsplit("/", 1)[-1])
    return out


def describe(sd: dict) -> dict:
    """One type: its kind, base and, per complex path, the ordered children."""
    elements: dict[str, list] = {}
    root = sd["type"]
    for el in sd["snapshot"]["element"][1:]:
        path = el["path"]
        parent, name = path.rsplit(".", 1)
        child = {
            "name": name,
            "types": _type_codes(el),
            "min": el.get("min", 0),
            "max": el.get("max", "1"),
        }
        if el.get("isSummary"):
            child["summary"] = True
        if el.get("isModifier"):
            child["modifier"] = True
        if "contentReference" in el:
            child["ref"] = el["contentReference"].lstrip("#")
        targets = _targets(el)
        if targets:
            child["targets"] = targets
        if el.get("representation"):
            child["repr"] = el["representation"]
        binding = el.get("binding")
        if binding and binding.get("strength") == "required" and "valueSet" in binding:
            child["binding"] = binding["valueSet"]
        elif binding and binding.get("strength") == "extensible" and "valueSet" in binding:
            child["extensible"] = binding["valueSet"]
        elements.setdefault(parent, []).append(child)
    return {
        "kind": sd["kind"],
        "abstract": sd.get("abstract", False),
        "base": (sd.get("baseDefinition") or "").rsplit("/", 1)[-1] or None,
        "derivation": sd.get("derivation"),
        "root": root,
        "elements": elements,
    }


def r4_structure_definitions(source: Path) -> list[dict]:
    sds = _entries(source / "profiles-types.json", "StructureDefinition")
    sds += _entries(source / "profiles-resources.json", "StructureDefinition")
    # the packager added R4B's SubscriptionStatus; it is not an R4 type (SOURCE.md)
    return [s for s in sds if s.get("fhirVersion", "4.0.1") == "4.0.1" and s["kind"] != "logical"]


def build_elements(source: Path) -> dict:
    types: dict[str, dict] = {}
    for sd in r4_structure_definitions(source):
        if sd.get("derivation") == "constraint":  # SimpleQuantity, MoneyQuantity: profiles of Quantity
            continue
        types[sd["id"]] = describe(sd)
    resources = sorted(
        name for name, t in types.items() if t["kind"] == "resource" and not t["abstract"]
    )
    return {"source": SOURCE_NOTE, "fhirVersion": "4.0.1", "resourceTypes": resources, "types": types}


SEARCH_FIELDS = (
    "url", "code", "name", "type", "base", "expression", "target", "modifier", "comparator",
    "multipleOr", "multipleAnd", "chain", "component",
)


def build_search_parameters(source: Path) -> dict:
    params = []
    for sp in _entries(source / "search-parameters.json", "SearchParameter"):
        item = {k: sp[k] for k in SEARCH_FIELDS if k in sp}
        item["id"] = sp["id"]
        params.append(item)
    return {"source": SOURCE_NOTE, "parameters": params}


MAX_BINDING_CODES = 1000


def _codesystem_codes(cs: dict) -> list[str]:
    out: list[str] = []
    stack = list(reversed(cs.get("concept", [])))
    while stack:
        concept = stack.pop()
        out.append(concept["code"])
        stack.extend(reversed(concept.get("concept", [])))
    return out


def _expand(url: str, valuesets: dict, codesystems: dict, depth: int = 0) -> dict[str, list[str]] | None:
    """``{system: [codes]}`` of a ValueSet expandable from the bundle alone, else None."""
    vs = valuesets.get(url)
    if vs is None or depth > 5 or "compose" not in vs or vs["compose"].get("exclude"):
        return None
    out: dict[str, list[str]] = {}
    for include in vs["compose"].get("include", []):
        if include.get("filter"):
            return None
        for imported in include.get("valueSet", []):
            sub = _expand(imported.split("|")[0], valuesets, codesystems, depth + 1)
            if sub is None:
                return None
            for system, codes in sub.items():
                out.setdefault(system, []).extend(codes)
        if "system" not in include:
            continue
        system = include["system"]
        if include.get("concept"):
            codes = [c["code"] for c in include["concept"]]
        elif system in codesystems and codesystems[system].get("content") == "complete":
            codes = _codesystem_codes(codesystems[system])
        else:
            return None
        out.setdefault(system, []).extend(codes)
    return out


def build_required_bindings(source: Path, elements: dict, strength_key: str = "binding") -> dict:
    """The expandable ValueSets of the bindings kept under ``strength_key`` in the element tree
    (``binding``: required, ``extensible``: extensible)."""
    bundle = json.loads((source / "valuesets.json").read_text(encoding="utf-8"))
    resources = [e["resource"] for e in bundle["entry"]]
    valuesets = {r["url"]: r for r in resources if r["resourceType"] == "ValueSet"}
    codesystems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}
    wanted = sorted({
        child[strength_key].split("|")[0]
        for t in elements["types"].values() for children in t["elements"].values()
        for child in children if child.get(strength_key)
    })
    tables: dict[str, dict[str, list[str]]] = {}
    for url in wanted:
        codes = _expand(url, valuesets, codesystems)
        if codes and sum(len(c) for c in codes.values()) <= MAX_BINDING_CODES:
            tables[url] = {system: sorted(set(c)) for system, c in codes.items()}
    count = "required" if strength_key == "binding" else strength_key
    return {"source": SOURCE_NOTE, "expandable": len(tables), count: len(wanted), "valueSets": tables}


def write(name: str, data: dict) -> None:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    (OUT / name).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT / name} ({len(text) // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "fhir-r4")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    elements = build_elements(args.source)
    write("r4-elements.json", elements)
    schema = json.loads((args.source / "fhir.schema.json").read_text(encoding="utf-8"))
    write("fhir.schema.json", schema)
    write("search-parameters.json", build_search_parameters(args.source))
    compartment = json.loads((args.source / "compartmentdefinition-patient.json").read_text(encoding="utf-8"))
    write("compartment-patient.json", compartment)
    write("required-bindings.json", build_required_bindings(args.source, elements))
    write("extensible-bindings.json", build_required_bindings(args.source, elements, "extensible"))


if __name__ == "__main__":
    main()
