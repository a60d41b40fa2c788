"""The IG in profiles/ and mappings/ is generated, reproducible and complete (SPEC §3, Appendix A)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FHIR_DIR = ROOT.parent / "shared" / "fhir-r4"
SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"

PROFILES = ["jiayi-patient", "jiayi-household", "jiayi-family-doctor-team", "jiayi-service-package",
            "jiayi-contract", "jiayi-referral", "jiayi-referral-task", "jiayi-health-management-plan",
            "jiayi-follow-up", "jiayi-contract-service", "jiayi-two-card-provenance",
            "jiayi-long-term-prescription"]
EXTENSIONS = {  # Appendix A: url → (context, value type or None for complex)
    "jiayi-key-population": (["Patient"], "CodeableConcept"), "jiayi-ethnicity": (["Patient"], "CodeableConcept"),
    "jiayi-household-registration": (["Patient"], "CodeableConcept"),
    "jiayi-household-head": (["Group.member"], "boolean"), "jiayi-team-type": (["CareTeam"], "CodeableConcept"),
    "jiayi-team-capacity": (["CareTeam"], "positiveInt"), "jiayi-team-lead": (["CareTeam.participant"], "boolean"),
    "jiayi-contract-household": (["Contract"], "Reference"), "jiayi-contract-care-team": (["Contract"], "Reference"),
    "jiayi-combination-hospital": (["Contract"], None), "jiayi-auto-renew": (["Contract"], "boolean"),
    "jiayi-signing-channel": (["Contract"], "Coding"), "jiayi-renews": (["Contract"], "Reference"),
    "jiayi-package-tier": (["PlanDefinition"], "Coding"), "jiayi-annual-price": (["PlanDefinition"], "Money"),
    "jiayi-referral-direction": (["ServiceRequest"], "Coding"), "jiayi-green-channel": (["ServiceRequest"], "boolean"),
    "jiayi-contract": (["Encounter", "CarePlan", "MedicationRequest"], "Reference"),
    "jiayi-service-item": (["Encounter"], "CodeableConcept"), "jiayi-card": (["Provenance.agent"], None),
    "jiayi-reserved-for-family-doctors": (["Slot"], "boolean"), "jiayi-family-doctor-open-time": (["Slot"], "dateTime"),
}
CODES = {  # Appendix A: code system → required codes
    "key-population": "elderly-65 pregnant-postpartum child-0-6 disabled poverty-alleviated family-planning-special "
                      "hypertension diabetes-t2 tuberculosis severe-mental-disorder",
    "team-role": "family-doctor nurse public-health-physician specialist pharmacist health-manager tcm-practitioner "
                 "psychologist rehabilitation-therapist social-worker volunteer village-doctor assistant",
    "team-type": "basic standard enhanced",
    "package-tier": "basic paid-primary paid-intermediate paid-advanced disease-specific",
    "payer-type": "medical-insurance public-health-fund finance self-pay",
    "signing-channel": "in-person home-visit online maternal-child-handbook functional-community",
    "termination-reason": "resident-request relocation death team-change other",
    "referral-direction": "upward downward lateral", "follow-up-method": "clinic home phone",
    "follow-up-classification": "satisfactory unsatisfactory adverse-reaction complication",
    "card-type": "resident-id-card social-security-card health-card e-health-card",
    "service-item": "hypertension-follow-up diabetes-follow-up elderly-health-check health-education "
                    "health-consultation home-visit family-bed rehabilitation-guidance tcm-health-management "
                    "long-term-prescription referral-booking child-health-check maternal-visit "
                    "severe-mental-follow-up tb-follow-up blood-pressure-measurement blood-glucose-test",
    "contract-type": "family-doctor", "care-team-category": "family-doctor-team",
    "gb2261-1": "0 1 2 9", "gb2261-2": "10 20 21 22 23 30 40 90",
    "gb3304": " ".join(f"{i:02d}" for i in range(1, 57)) + " 97 98 99",
    "gb4658": "10 20 30 40 60 70 80 90", "abo-blood-group": "1 2 3 4 5", "rh-blood-group": "1 2 3",
    "medical-payment-method": "01 02 03 04 05 06 07 08 99",
}
OPERATIONS = {"Contract-terminate": ["reason", "date", "requestedBy", "return"],
              "Contract-renew": ["years", "package", "careTeam", "return"],
              "Contract-renew-due": ["asOf", "windowDays", "renewed", "count"],
              "Contract-fulfilment": ["asOf", "item"],
              "Patient-family-doctor": ["contract", "careTeam", "doctor", "hospital"],
              "Encounter-record-service": ["eventId", "residentCardType", "residentCardNumber", "doctorCardNumber",
                                           "time", "item", "latitude", "longitude", "terminal", "return"],
              "ServiceRequest-book": ["notBefore", "return"]}


def load(path: str) -> dict:
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def all_codes(concepts: list[dict]) -> list[str]:
    return [c["code"] for c in concepts] + [x for c in concepts for x in all_codes(c.get("concept", []))]


@pytest.mark.skipif(not FHIR_DIR.exists(), reason="the official R4 definitions (../shared/fhir-r4) are not here")
def test_generation_is_reproducible():
    """Running scripts/build_ig.py again gives exactly the committed files (and the packaged bundle)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import build_ig

    files = build_ig.render(FHIR_DIR)
    stale = [str(p) for p, text in files.items() if (ROOT / p).read_text(encoding="utf-8") != text]
    assert not stale, f"out of date (run python scripts/build_ig.py): {stale}"
    generated = {p for p in files if p.parts[0] == "profiles"}
    orphans = [p for p in (ROOT / "profiles").rglob("*.json") if p.relative_to(ROOT) not in generated]
    assert not orphans


def test_every_profile_has_a_differential_and_a_snapshot():
    for pid in PROFILES:
        sd = load(f"profiles/StructureDefinition-{pid}.json")
        assert sd["url"] == SD + pid and sd["derivation"] == "constraint"
        ids = [e["id"] for e in sd["snapshot"]["element"]]
        assert len(ids) == len(set(ids))
        assert {e["id"] for e in sd["differential"]["element"]} <= set(ids)
        assert ids[0] == sd["type"]


def test_every_appendix_a_extension_is_defined_with_context_and_value_type():
    by_instance_url = {}
    for path in (ROOT / "profiles").glob("StructureDefinition-*.json"):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd["type"] == "Extension":
            url = next(e["fixedUri"] for e in sd["snapshot"]["element"] if e["id"] == "Extension.url")
            by_instance_url[url] = sd
    for name, (context, value) in EXTENSIONS.items():
        sd = by_instance_url[SD + name]
        assert [c["expression"] for c in sd["context"]] == context
        value_el = next(e for e in sd["snapshot"]["element"] if e["id"] == "Extension.value[x]")
        if value is None:
            assert value_el["max"] == "0"
            assert any(e.get("sliceName") for e in sd["snapshot"]["element"])
        else:
            assert [t["code"] for t in value_el["type"]] == [value]


def test_patient_slices_identifiers_by_system_and_checks_gb11643():
    sd = load("profiles/StructureDefinition-jiayi-patient.json")
    elements = {e["id"]: e for e in sd["snapshot"]["element"]}
    assert elements["Patient.identifier"]["slicing"]["discriminator"] == [{"type": "value", "path": "system"}]
    assert elements["Patient.identifier:idCard.system"]["fixedUri"] == "urn:oid:2.16.156.10011.1.3"
    assert elements["Patient.identifier:healthRecord.system"]["fixedUri"] == "urn:oid:2.16.156.10011.1.2"
    keys = {c["key"] for c in elements["Patient.identifier"]["constraint"]}
    assert {"jiayi-pat-1", "jiayi-pat-2", "ele-1"} <= keys


def test_code_systems_have_the_appendix_a_codes_and_zh_en_displays():
    for cs_id, codes in CODES.items():
        cs = load(f"profiles/CodeSystem-{cs_id}.json")
        assert cs["url"] == CS + cs_id
        assert set(codes.split()) <= set(all_codes(cs["concept"])), cs_id
        for c in cs["concept"]:
            languages = {d["language"] for d in c["designation"]}
            assert {"zh", "en"} <= languages, (cs_id, c["code"])
        assert (ROOT / f"profiles/ValueSet-{cs_id}.json").exists()


def test_naming_systems_cover_every_identifier_system_with_aliases():
    unique = {}
    for path in (ROOT / "profiles").glob("NamingSystem-*.json"):
        ns = json.loads(path.read_text(encoding="utf-8"))
        unique[ns["id"]] = {u["value"] for u in ns["uniqueId"]}
    assert "urn:oid:2.16.840.1.113883.2.23.1.19.1" in unique["resident-id-card"]
    assert "2.16.156.10011.1.3" in unique["resident-id-card"]
    for system in ["urn:oid:2.16.156.10011.1.2", "urn:oid:2.16.156.10011.1.19", "urn:oid:2.16.840.1.113883.2.23.1.19.2",
                   "https://jiayi.dev/fhir/sid/e-health-card", "https://jiayi.dev/fhir/sid/doctor-card",
                   "https://jiayi.dev/fhir/sid/contract-number", "https://jiayi.dev/fhir/sid/uscc",
                   "https://jiayi.dev/fhir/sid/miplrn"]:
        assert any(system in values for values in unique.values()), system


def test_operation_definitions_name_the_appendix_a_parameters():
    for op_id, names in OPERATIONS.items():
        od = load(f"profiles/OperationDefinition-{op_id}.json")
        assert od["url"] == f"https://jiayi.dev/fhir/OperationDefinition/{op_id}"
        assert [p["name"] for p in od["parameter"]] == names
    for official in ["ValueSet-expand", "CodeSystem-lookup", "ValueSet-validate-code", "ConceptMap-translate",
                     "Resource-validate", "Patient-everything", "PlanDefinition-apply"]:
        od = load(f"profiles/OperationDefinition-{official}.json")
        assert od["url"] == f"http://hl7.org/fhir/OperationDefinition/{official}"


def test_every_profile_has_an_example():
    claimed = set()
    for path in (ROOT / "profiles" / "examples").glob("*.json"):
        claimed.update(json.loads(path.read_text(encoding="utf-8")).get("meta", {}).get("profile", []))
    assert {SD + p for p in PROFILES} <= claimed


def test_the_implementation_guide_lists_every_resource():
    guide = load("profiles/ImplementationGuide-jiayi.json")
    listed = {r["reference"]["reference"] for r in guide["definition"]["resource"]}
    for path in (ROOT / "profiles").rglob("*.json"):
        if "fixtures" in path.parts:  # the conformance TestScripts' fixture templates
            continue
        r = json.loads(path.read_text(encoding="utf-8"))
        if r["resourceType"] != "ImplementationGuide":
            assert f"{r['resourceType']}/{r['id']}" in listed


def test_an_installed_package_serves_the_same_ig_from_its_bundle(monkeypatch, tmp_path):
    from fhir_server.definitions import ig

    checkout = ig.resources()
    monkeypatch.setattr(ig, "ROOT", tmp_path)  # no profiles/ here, as in site-packages
    ig.resources.cache_clear()
    try:
        packaged = ig.resources()
    finally:
        ig.resources.cache_clear()

    def key(resource: dict) -> tuple[str, str]:
        return resource["resourceType"], resource["id"]

    assert sorted(packaged, key=key) == sorted(checkout, key=key)
