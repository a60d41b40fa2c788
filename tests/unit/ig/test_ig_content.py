"""The IG's resources are valid R4, its invariants hold on the examples and the demo district,
and they catch what they are meant to catch (GB 11643, one head, one lead, term, supply)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pytest
from fhirpathpy import compile as compile_fhirpath
from fhirpathpy import evaluate

from fhir_server.core.national_ids import make_id
from fhir_server.definitions.ig import concept_maps_in
from fhir_server.demo import generate_district
from fhir_server.validation import validate_resource

ROOT = Path(__file__).resolve().parents[3]
SD = "https://jiayi.dev/fhir/StructureDefinition/"
FILES = sorted(p for p in (ROOT / "profiles").rglob("*.json") if "src" not in p.parts) + [
    p for p in sorted((ROOT / "mappings").rglob("*.json"))
    if concept_maps_in(json.loads(p.read_text(encoding="utf-8")))]


@cache
def profile(pid: str) -> dict:
    return json.loads((ROOT / f"profiles/StructureDefinition-{pid}.json").read_text(encoding="utf-8"))


def example(name: str) -> dict:
    return json.loads((ROOT / f"profiles/examples/{name}.json").read_text(encoding="utf-8"))


@cache
def compiled(expression: str):
    return compile_fhirpath(expression)


def broken_invariants(resource: dict, pid: str) -> set[str]:
    """Keys of the profile's own invariants that ``resource`` breaks (evaluated at their element)."""
    failed = set()
    for el in profile(pid)["differential"]["element"]:
        for c in el.get("constraint", []):
            rel = el["path"].split(".", 1)[1] if "." in el["path"] else None
            nodes = [resource] if rel is None else evaluate(resource, rel)
            if any(compiled(c["expression"])(n) != [True] for n in nodes):
                failed.add(c["key"])
    return failed


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_ig_file_passes_base_r4_validation(path):
    resource = json.loads(path.read_text(encoding="utf-8"))
    errors = [i for i in validate_resource(resource) if i.severity in ("error", "fatal")]
    assert not errors, errors[:5]


def test_examples_satisfy_their_profiles_invariants():
    for path in (ROOT / "profiles" / "examples").glob("*.json"):
        resource = json.loads(path.read_text(encoding="utf-8"))
        for url in resource.get("meta", {}).get("profile", []):
            assert not broken_invariants(resource, url.removeprefix(SD)), path.name


DEMO_PROFILES = {"Patient": "jiayi-patient", "Group": "jiayi-household", "CareTeam": "jiayi-family-doctor-team",
                 "Contract": "jiayi-contract", "Encounter": "jiayi-follow-up",
                 "PlanDefinition": "jiayi-service-package",
                 "ServiceRequest": "jiayi-referral", "Task": "jiayi-referral-task"}


def test_the_demo_district_satisfies_the_invariants_and_required_extensions():
    problems = []
    for resource in generate_district(7, 150).resources():
        pid = DEMO_PROFILES.get(resource["resourceType"])
        if pid is None:
            continue
        problems += [(resource["id"], key) for key in broken_invariants(resource, pid)]
        urls = {e["url"] for e in resource.get("extension", [])}
        for el in profile(pid)["differential"]["element"]:
            if el.get("sliceName") and el["path"].count(".") == 1 and el["path"].endswith("extension") \
                    and el.get("min", 0) > 0 and el["type"][0]["profile"][0] not in urls:
                problems.append((resource["id"], el["sliceName"]))
    assert not problems, problems[:10]


def test_gb11643_check_digit_invariant():
    patient = example("Patient-example-resident-wang")
    good = patient["identifier"][0]["value"]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    for value, ok in [(good, True), (wrong, False), (good[:6] + good[8:17], True), ("12345", False),
                      (make_id("990102", __import__("datetime").date(1990, 1, 1), 3, "female"), True)]:
        p = copy.deepcopy(patient)
        p["identifier"][0]["value"] = value
        assert ("jiayi-pat-1" in broken_invariants(p, "jiayi-patient")) is not ok, value
    p = copy.deepcopy(patient)
    p["identifier"][1]["value"] = "1234"
    assert "jiayi-pat-2" in broken_invariants(p, "jiayi-patient")


def test_household_needs_exactly_one_head():
    household = example("Group-example-household-wang")
    none = copy.deepcopy(household)
    none["member"][0].pop("extension")
    two = copy.deepcopy(household)
    two["member"][1]["extension"] = copy.deepcopy(household["member"][0]["extension"])
    assert broken_invariants(none, "jiayi-household") == {"jiayi-hh-1"}
    assert broken_invariants(two, "jiayi-household") == {"jiayi-hh-1"}


def test_team_needs_exactly_one_lead_who_is_a_family_doctor():
    team = example("CareTeam-example-team-zhao")
    nurse_lead = copy.deepcopy(team)
    nurse_lead["participant"][0].pop("extension")
    nurse_lead["participant"][1]["extension"] = copy.deepcopy(team["participant"][0]["extension"])
    assert broken_invariants(nurse_lead, "jiayi-family-doctor-team") == {"jiayi-team-2"}
    no_lead = copy.deepcopy(team)
    no_lead["participant"][0].pop("extension")
    assert "jiayi-team-1" in broken_invariants(no_lead, "jiayi-family-doctor-team")


@pytest.mark.parametrize("end, ok", [("2027-01-04", True), ("2029-01-05", True), ("2026-06-30", False),
                                     ("2029-06-30", False)])
def test_contract_term_is_one_to_three_years(end, ok):
    contract = example("Contract-example-contract-wang")
    contract["applies"]["end"] = end
    assert ("jiayi-ctr-1" in broken_invariants(contract, "jiayi-contract")) is not ok
    contract["status"] = "terminated"
    contract["expirationType"] = {"coding": [{"system": "https://jiayi.dev/fhir/CodeSystem/termination-reason",
                                              "code": "relocation"}]}
    assert "jiayi-ctr-1" not in broken_invariants(contract, "jiayi-contract")


@pytest.mark.parametrize("value, code, ok", [(28, "d", True), (84, "d", True), (27, "d", False), (85, "d", False),
                                             (12, "wk", True), (13, "wk", False)])
def test_long_term_prescription_supply_is_28_to_84_days(value, code, ok):
    prescription = example("MedicationRequest-example-ltp-wang")
    prescription["dispenseRequest"]["expectedSupplyDuration"].update(value=value, code=code)
    assert ("jiayi-ltp-1" in broken_invariants(prescription, "jiayi-long-term-prescription")) is not ok
