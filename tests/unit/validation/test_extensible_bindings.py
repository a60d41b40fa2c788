"""Extensible bindings (FHIR R4 terminologies.html#extensible): a code outside the value set is a
warning, never an error, when the value set is known here (base R4 bindings whose value set
``scripts/generate_definitions.py`` could expand, and a profile's binding to one of them); text
alone, or one coding from the set beside others, raises nothing."""

from __future__ import annotations

import copy

from fhir_server.definitions.structures import structures
from fhir_server.validation import Validator, validate_resource
from fhir_server.validation.bindings import check_extensible, extensible_value_sets
from fhir_server.validation.conformance import Conformance

CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION = {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
             "category": [{"coding": [{"system": CATEGORY, "code": "problem-list-item"}]}]}


def _issues(resource: dict) -> list[tuple[str, str, str]]:
    return [(i.severity, i.code, i.expression[0]) for i in validate_resource(resource)]


def test_the_element_tree_keeps_extensible_bindings_apart_from_required_ones():
    category = structures().children("Condition")["category"]
    assert category.binding is None
    assert category.extensible == "http://hl7.org/fhir/ValueSet/condition-category"
    assert "http://hl7.org/fhir/ValueSet/condition-category" in extensible_value_sets()
    assert structures().children("Observation")["status"].extensible is None  # required: not both


def test_a_codeable_concept_outside_an_extensible_value_set_is_a_warning():
    assert _issues(CONDITION) == []
    other = copy.deepcopy(CONDITION)
    other["category"][0]["coding"][0] = {"system": "http://x.cn/fhir/CodeSystem/cat", "code": "zz"}
    issues = validate_resource(other)
    assert [(i.severity, i.code, i.expression) for i in issues] == [
        ("warning", "code-invalid", ("Condition.category[0]",))]
    assert "condition-category" in issues[0].diagnostics
    assert "http://x.cn/fhir/CodeSystem/cat|zz" in issues[0].diagnostics
    assert not any(i.is_error for i in issues)
    # one coding from the set beside a local one: fine
    other["category"][0]["coding"].append({"system": CATEGORY, "code": "encounter-diagnosis"})
    assert _issues(other) == []
    # text alone (no code applies): fine
    assert _issues({**CONDITION, "category": [{"text": "慢病随访"}]}) == []
    # the right code in the wrong system is outside the set
    wrong_system = copy.deepcopy(CONDITION)
    wrong_system["category"][0]["coding"][0]["system"] = "http://x.cn/fhir/CodeSystem/cat"
    assert _issues(wrong_system) == [("warning", "code-invalid", "Condition.category[0]")]


def test_an_identifier_type_outside_identifier_type_is_a_warning_in_a_nested_data_type():
    patient = {"resourceType": "Patient", "identifier": [
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "1"},
        {"type": {"coding": [{"system": "https://jiayi.dev/fhir/CodeSystem/id-type", "code": "SFZ"}]}, "value": "2"}]}
    assert _issues(patient) == [("warning", "code-invalid", "Patient.identifier[1].type")]


def test_value_sets_not_known_here_are_not_judged():
    assert check_extensible("CodeableConcept", {"coding": [{"system": "s", "code": "c"}]},
                            "http://hl7.org/fhir/ValueSet/no-such-value-set") is None
    # Observation.code is bound (example strength) to LOINC: nothing to say
    obs = {"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://x.cn", "code": "1"}]}}
    assert _issues(obs) == []


def test_check_extensible_on_code_and_coding():
    url = "http://hl7.org/fhir/ValueSet/condition-category|4.0.1"
    assert check_extensible("Coding", {"system": CATEGORY, "code": "problem-list-item"}, url) is None
    assert check_extensible("Coding", {"system": CATEGORY, "code": "nope"}, url) is not None
    assert check_extensible("Coding", {"system": CATEGORY, "display": "no code"}, url) is None
    assert check_extensible("code", "problem-list-item", url) is None
    assert check_extensible("code", "nope", url) is not None


def test_a_profiles_extensible_binding_to_a_base_value_set_is_checked_as_a_warning():
    sd = {"resourceType": "StructureDefinition", "url": "https://x.cn/fhir/StructureDefinition/cond",
          "name": "Cond", "status": "draft", "kind": "resource", "abstract": False, "type": "Condition",
          "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Condition", "derivation": "constraint",
          "snapshot": {"element": [
              {"id": "Condition", "path": "Condition", "min": 0, "max": "*"},
              {"id": "Condition.category", "path": "Condition.category", "min": 1, "max": "*",
               "type": [{"code": "CodeableConcept"}],
               "binding": {"strength": "extensible",
                           "valueSet": "http://hl7.org/fhir/ValueSet/condition-category"}}]}}
    validator = Validator(Conformance([sd]))
    local = {**CONDITION, "category": [{"coding": [{"system": "http://x.cn/cat", "code": "zz"}]}]}
    issues = validator.validate(local, profile=sd["url"])
    assert not any(i.is_error for i in issues)
    assert ("warning", "code-invalid") in {(i.severity, i.code) for i in issues}
    assert not [i for i in validator.validate(CONDITION, profile=sd["url"]) if i.code == "code-invalid"]
