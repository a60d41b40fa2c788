"""No false errors: the official R4 examples of the base resources the IG profiles validate with
no error against their base StructureDefinition (structure, bindings, base invariants)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_server.validation import Validator, ig

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT.parent / "shared" / "fhir-r4" / "examples"
# the base types of SPEC §3's profiles, and the resources they point to; profiles/ may add more
PROFILED = {"Patient", "Group", "CareTeam", "PlanDefinition", "Contract", "ServiceRequest", "Task", "CarePlan",
            "Encounter", "Provenance", "MedicationRequest", "Questionnaire", "QuestionnaireResponse", "Measure",
            "Observation", "Organization", "Practitioner", "PractitionerRole", "HealthcareService", "Slot",
            "Schedule", "Appointment", "Condition", "Goal"}
# deliberate exceptions: examples that really break an R4 rule (file → reason)
EXCEPTIONS: dict[str, str] = {
    "Questionnaire-qs1.json": "its items have no linkId, which Questionnaire.item requires (1..1) in R4",
    "MedicationRequest-medrx0301.json": "dispenseRequest.performer refers to a Practitioner; R4 allows an "
                                        "Organization only (targetProfile)",
    "Observation-clinical-gender.json": "performer refers to an Encounter, which R4's Observation.performer "
                                        "does not allow (targetProfile)",
}


def _profiled_types() -> set[str]:
    types = set(PROFILED)
    for sd in ig.conformance().structures.values():
        if sd.get("derivation") == "constraint" and sd.get("kind") == "resource":
            types.add(sd["type"])
    return types


def _examples() -> list[Path]:
    if not EXAMPLES.is_dir():
        return []
    types = _profiled_types()
    return [p for p in sorted(EXAMPLES.glob("*.json")) if p.name.split("-", 1)[0] in types]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(ig.conformance())


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="the official R4 examples (../shared/fhir-r4) are not here")
def test_examples_are_there():
    assert len(_examples()) > 100


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_official_example_has_no_error(validator, path):
    if path.name in EXCEPTIONS:
        pytest.skip(EXCEPTIONS[path.name])
    resource = json.loads(path.read_text(encoding="utf-8"))
    errors = [(i.code, i.expression, i.diagnostics) for i in validator.validate(resource) if i.is_error]
    assert errors == []
