"""ConceptMaps from the Chinese national code tables to FHIR / HL7 code systems (mappings/).

Each map is a table here; the build drops (and reports) any target code that is not in the
official R4 code system, so a map never points at a code that does not exist.  ABO/Rh have
no target: SNOMED CT and LOINC are not part of the official R4 definitions we derive from,
so their codes cannot be checked here (see docs/decisions.md).
"""

from __future__ import annotations

import json
from pathlib import Path

BASE = "https://jiayi.dev/fhir"
GENDER = "http://hl7.org/fhir/administrative-gender"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

# (source code, target system, target code, equivalence) — equivalence of the target to the source.
TABLES = {
    "gb2261-1-to-administrative-gender": ("gb2261-1", "http://hl7.org/fhir/ValueSet/administrative-gender", [
        ("0", GENDER, "unknown", "equivalent"), ("1", GENDER, "male", "equivalent"),
        ("2", GENDER, "female", "equivalent"), ("9", GENDER, "unknown", "wider")]),
    "gb2261-2-to-v3-marital-status": ("gb2261-2", "http://hl7.org/fhir/ValueSet/marital-status", [
        ("10", MARITAL, "S", "equivalent"), ("20", MARITAL, "M", "equivalent"), ("21", MARITAL, "M", "wider"),
        ("22", MARITAL, "M", "wider"), ("23", MARITAL, "M", "wider"), ("30", MARITAL, "W", "equivalent"),
        ("40", MARITAL, "D", "equivalent"), ("90", NULL_FLAVOR, "UNK", "wider")]),
    "gb4761-to-v3-role-code": ("gb4761", "http://terminology.hl7.org/ValueSet/v3-FamilyMember", [
        ("01", ROLE, "ONESELF", "equivalent"), ("1", ROLE, "SPS", "equivalent"), ("11", ROLE, "HUSB", "equivalent"),
        ("12", ROLE, "WIFE", "equivalent"), ("2", ROLE, "SON", "equivalent"), ("21", ROLE, "SON", "wider"),
        ("22", ROLE, "SON", "wider"), ("23", ROLE, "SON", "wider"), ("24", ROLE, "SON", "wider"),
        ("25", ROLE, "SON", "wider"), ("26", ROLE, "SON", "wider"), ("27", ROLE, "CHILD", "wider"),
        ("28", ROLE, "SONINLAW", "equivalent"), ("29", ROLE, "SON", "wider"), ("3", ROLE, "DAU", "equivalent"),
        ("31", ROLE, "DAU", "wider"), ("32", ROLE, "DAU", "wider"), ("33", ROLE, "DAU", "wider"),
        ("34", ROLE, "DAU", "wider"), ("35", ROLE, "DAU", "wider"), ("36", ROLE, "DAU", "wider"),
        ("37", ROLE, "CHILD", "wider"), ("38", ROLE, "DAUINLAW", "equivalent"), ("39", ROLE, "DAU", "wider"),
        ("4", ROLE, "GRNDCHILD", "equivalent"), ("41", ROLE, "GRNDSON", "wider"), ("42", ROLE, "GRNDDAU", "wider"),
        ("43", ROLE, "GRNDSON", "wider"), ("44", ROLE, "GRNDDAU", "wider"), ("5", ROLE, "PRN", "equivalent"),
        ("51", ROLE, "FTH", "equivalent"), ("52", ROLE, "MTH", "equivalent"), ("53", ROLE, "FTHINLAW", "wider"),
        ("54", ROLE, "MTHINLAW", "wider"), ("55", ROLE, "FTHINLAW", "wider"), ("56", ROLE, "MTHINLAW", "wider"),
        ("57", ROLE, "FTH", "wider"), ("58", ROLE, "MTH", "wider"), ("6", ROLE, "GRPRN", "equivalent"),
        ("61", ROLE, "PGRFTH", "equivalent"), ("62", ROLE, "PGRMTH", "equivalent"),
        ("63", ROLE, "MGRFTH", "equivalent"), ("64", ROLE, "MGRMTH", "equivalent"),
        ("66", ROLE, "GGRFTH", "wider"), ("67", ROLE, "GGRMTH", "wider"), ("7", ROLE, "SIB", "equivalent"),
        ("71", ROLE, "BRO", "wider"), ("72", ROLE, "SISINLAW", "wider"), ("73", ROLE, "BRO", "wider"),
        ("74", ROLE, "SISINLAW", "wider"), ("75", ROLE, "SIS", "wider"), ("76", ROLE, "BROINLAW", "wider"),
        ("77", ROLE, "SIS", "wider"), ("78", ROLE, "BROINLAW", "wider"), ("81", ROLE, "PUNCLE", "wider"),
        ("82", ROLE, "AUNT", "wider"), ("83", ROLE, "PUNCLE", "wider"), ("84", ROLE, "AUNT", "wider"),
        ("85", ROLE, "MUNCLE", "equivalent"), ("86", ROLE, "AUNT", "wider"), ("87", ROLE, "UNCLE", "wider"),
        ("88", ROLE, "MAUNT", "equivalent"), ("89", ROLE, "UNCLE", "wider"), ("90", ROLE, "PAUNT", "equivalent"),
        ("91", ROLE, "PCOUSN", "equivalent"), ("92", ROLE, "COUSN", "wider"), ("93", ROLE, "NEPHEW", "wider"),
        ("94", ROLE, "NIECE", "wider"), ("95", ROLE, "NEPHEW", "wider"), ("96", ROLE, "NIECE", "wider"),
        ("97", ROLE, "EXT", "wider")]),
    "phs-payment-method-to-cv07-10-003": ("phs-payment-method", BASE + "/ValueSet/medical-payment-method", [
        ("1", BASE + "/CodeSystem/medical-payment-method", "01", "equivalent"),
        ("2", BASE + "/CodeSystem/medical-payment-method", "02", "equivalent"),
        ("3", BASE + "/CodeSystem/medical-payment-method", "03", "equivalent"),
        ("4", BASE + "/CodeSystem/medical-payment-method", "04", "equivalent"),
        ("5", BASE + "/CodeSystem/medical-payment-method", "05", "equivalent"),
        ("6", BASE + "/CodeSystem/medical-payment-method", "06", "equivalent"),
        ("7", BASE + "/CodeSystem/medical-payment-method", "07", "equivalent"),
        ("8", BASE + "/CodeSystem/medical-payment-method", "99", "wider")]),
}
TITLES = {
    "gb2261-1-to-administrative-gender": "GB/T 2261.1 性别 → FHIR administrative-gender",
    "gb2261-2-to-v3-marital-status": "GB/T 2261.2 婚姻状况 → HL7 v3 MaritalStatus",
    "gb4761-to-v3-role-code": "GB/T 4761 家庭关系 → HL7 v3 RoleCode (family members)",
    "phs-payment-method-to-cv07-10-003": "医疗费用支付方式（公卫表单 1-8） → CV07.10.003",
}


def _known_codes(fhir_dir: Path, systems: list[dict]) -> dict[str, set[str]]:
    known: dict[str, set[str]] = {}

    def walk(url: str, concepts: list[dict]) -> None:
        for c in concepts:
            known.setdefault(url, set()).add(c["code"])
            walk(url, c.get("concept", []))

    for name in ("valuesets.json", "v3-codesystems.json"):
        for entry in json.loads((fhir_dir / name).read_text(encoding="utf-8"))["entry"]:
            res = entry["resource"]
            if res.get("resourceType") == "CodeSystem":
                walk(res["url"], res.get("concept", []))
    for cs in systems:
        walk(cs["url"], cs["concept"])
    return known


def _displays(systems: list[dict]) -> dict[tuple[str, str], str]:
    out = {}

    def walk(url: str, concepts: list[dict]) -> None:
        for c in concepts:
            out[(url, c["code"])] = c["display"]
            walk(url, c.get("concept", []))

    for cs in systems:
        walk(cs["url"], cs["concept"])
    return out


def concept_maps(systems: list[dict], fhir_dir: Path) -> list[dict]:
    known = _known_codes(fhir_dir, systems)
    displays = _displays(systems)
    maps = []
    for map_id, (source_id, target_vs, rows) in TABLES.items():
        source = f"{BASE}/CodeSystem/{source_id}"
        groups: dict[str, list[dict]] = {}
        for code, system, target, equivalence in rows:
            if target not in known.get(system, set()):
                raise SystemExit(f"{map_id}: {system}#{target} is not in the official code system")
            element = {"code": code, "display": displays[(source, code)],
                       "target": [{"code": target, "equivalence": equivalence}]}
            groups.setdefault(system, []).append(element)
        maps.append({
            "resourceType": "ConceptMap", "id": map_id, "url": f"{BASE}/ConceptMap/{map_id}", "version": "0.1.0",
            "name": "".join(p.capitalize() for p in map_id.split("-")), "title": TITLES[map_id],
            "status": "active", "experimental": False, "date": "2026-12-01", "publisher": "Jiayi (家医) project",
            "description": f"Maps {source} to {target_vs}.  Codes without a counterpart are left unmapped.",
            "sourceUri": f"{BASE}/ValueSet/{source_id}", "targetUri": target_vs,
            "group": [{"source": source, "target": system, "element": elements}
                      for system, elements in groups.items()],
        })
    return maps
