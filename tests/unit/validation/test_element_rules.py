"""Base rules checked on every write by the element walker (issue 16 §4): ele-1 on a primitive
with only an id, the 1 MB limit of a string, Attachment.size against its data, and the target
types R4 allows for each Reference element (derived from the R4 targetProfiles)."""

from __future__ import annotations

import base64

import pytest

from fhir_server.validation import validate_resource


def _errors(resource: dict) -> list[tuple[str, str]]:
    return [(i.expression[0] if i.expression else "", i.code) for i in validate_resource(resource) if i.is_error]


def test_ele_1_on_a_primitive_with_only_an_id():
    assert ("Patient._implicitRules", "invariant") in _errors(
        {"resourceType": "Patient", "_implicitRules": {"id": "r1"}})
    assert _errors({"resourceType": "Patient", "implicitRules": "http://x.cn/rules",
                    "_implicitRules": {"id": "r1"}}) == []
    with_extension = {"resourceType": "Patient", "_birthDate": {
        "id": "b", "extension": [{"url": "http://x.cn/ext", "valueString": "unknown"}]}}
    assert _errors(with_extension) == []
    names = {"resourceType": "Patient", "name": [{"given": ["三", None], "_given": [None, {"id": "g2"}]}]}
    assert ("Patient.name[0]._given[1]", "invariant") in _errors(names)


def test_strings_over_one_megabyte_are_refused():
    big = "家" * (1024 * 1024 // 3 + 1)  # 3 bytes each in UTF-8: just over 1 MB, a third as many characters
    assert ("Patient.name[0].text", "value") in _errors({"resourceType": "Patient", "name": [{"text": big}]})
    assert _errors({"resourceType": "Patient", "name": [{"text": "家" * 1000}]}) == []


@pytest.mark.parametrize(("size", "ok"), [(14, True), (100, False), (13, False)])
def test_attachment_size_against_the_data(size, ok):
    data = base64.b64encode(b"Hello, world!!").decode()  # 14 bytes
    media = {"resourceType": "Media", "status": "completed",
             "content": {"contentType": "text/plain", "data": data, "size": size}}
    assert (_errors(media) == []) is ok


def test_reference_target_types_come_from_the_r4_definitions():
    patient = {"resourceType": "Patient", "generalPractitioner": [{"reference": "Practitioner/d1"}],
               "managingOrganization": {"reference": "http://x.cn/fhir/Organization/o1"}}
    assert _errors(patient) == []
    wrong = {"resourceType": "Patient", "generalPractitioner": [{"reference": "Observation/o1"}]}
    assert ("Patient.generalPractitioner[0]", "invalid") in _errors(wrong)
    by_type = {"resourceType": "Patient", "managingOrganization": {"type": "Patient", "identifier": {"value": "1"}}}
    assert ("Patient.managingOrganization", "invalid") in _errors(by_type)
    anything = {"resourceType": "Provenance", "target": [{"reference": "Observation/x"}],
                "recorded": "2024-01-01T00:00:00Z", "agent": [{"who": {"reference": "Practitioner/d1"}}]}
    assert _errors(anything) == []
    local = {"resourceType": "Patient", "generalPractitioner": [{"reference": "urn:uuid:0c3c3f6e-1f4b-4d4e-9b0a-"
                                                                             "5a1e2c3d4e01"}]}
    assert _errors(local) == []


# --- core extension definitions (data/r4-extensions.json) -------------------------------------------
ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"
SPECIES = {"url": "species", "valueCodeableConcept": {"text": "dog"}}


def _extension_errors(resource: dict) -> list[tuple[str, str]]:
    from fhir_server.validation.core_extensions import core_extension_issues

    return [(i.expression[0], i.diagnostics) for i in core_extension_issues(resource, resource["resourceType"])
            if i.is_error]


def test_core_complex_extension_parts():
    good = {"resourceType": "Patient", "extension": [{"url": ANIMAL, "extension": [SPECIES]}]}
    assert _extension_errors(good) == []
    missing = {"resourceType": "Patient", "extension": [{"url": ANIMAL, "extension": [
        {"url": "breed", "valueCodeableConcept": {"text": "collie"}}]}]}
    assert [e for e in _extension_errors(missing) if "species" in e[1]]
    unknown_part = {"resourceType": "Patient", "extension": [{"url": ANIMAL, "extension": [
        SPECIES, {"url": "species-x", "valueString": "x"}]}]}
    assert [e for e in _extension_errors(unknown_part) if e[0] == "Patient.extension[0].extension[1]"]
    twice = {"resourceType": "Patient", "extension": [{"url": ANIMAL, "extension": [SPECIES, SPECIES]}]}
    assert _extension_errors(twice)
    wrong_type = {"resourceType": "Patient", "extension": [{"url": ANIMAL, "extension": [
        {"url": "species", "valueString": "dog"}]}]}
    assert _extension_errors(wrong_type)


def test_core_extension_context_value_type_and_modifier():
    mothers = "http://hl7.org/fhir/StructureDefinition/humanname-mothers-family"
    on_family = {"resourceType": "Patient", "name": [{"family": "王", "_family": {
        "extension": [{"url": mothers, "valueString": "李"}]}}]}
    assert _extension_errors(on_family) == []
    on_name = {"resourceType": "Patient", "name": [{"family": "王", "extension": [{"url": mothers,
                                                                                  "valueString": "李"}]}]}
    assert [e for e in _extension_errors(on_name) if e[0] == "Patient.name[0].extension[0]"]
    link = "http://hl7.org/fhir/StructureDefinition/narrativeLink"
    assert _extension_errors({"resourceType": "Patient", "extension": [{"url": link, "valueUrl": "#a"}]}) == []
    assert _extension_errors({"resourceType": "Patient", "extension": [{"url": link, "valueUri": "#a"}]})
    not_modifier = {"resourceType": "Patient", "modifierExtension": [{"url": ANIMAL, "extension": [SPECIES]}]}
    assert _extension_errors(not_modifier)
    do_not = "http://hl7.org/fhir/StructureDefinition/request-doNotPerform"  # a modifier, on NutritionOrder
    order = {"resourceType": "NutritionOrder", "status": "active", "intent": "order",
             "patient": {"reference": "Patient/1"}, "dateTime": "2024-05-01"}
    assert _extension_errors({**order, "extension": [{"url": do_not, "valueBoolean": True}]})
    assert _extension_errors({**order, "modifierExtension": [{"url": do_not, "valueBoolean": True}]}) == []


def test_extension_urls_are_absolute_and_unknown_ones_are_not_judged():
    assert _extension_errors({"resourceType": "Patient", "extension": [{"url": "animal", "valueString": "x"}]})
    unknown = {"resourceType": "Patient", "extension": [{"url": "http://example.org/fhir/x", "valueString": "x"}]}
    assert _extension_errors(unknown) == []


def test_the_derived_table_ships_every_core_definition():
    from fhir_server.validation.core_extensions import definitions

    assert len(definitions()) == 393
    assert definitions()[ANIMAL]["parts"]["species"][:2] == [1, "1"]


# --- conformance resources against the definitions they name --------------------------------------
def test_capability_statement_search_parameter_type_follows_its_definition():
    def statement(kind: str) -> dict:
        return {"resourceType": "CapabilityStatement", "status": "draft", "date": "2024-05-01", "kind": "instance",
                "fhirVersion": "4.0.1", "format": ["json"], "rest": [{"mode": "server", "resource": [{
                    "type": "AllergyIntolerance", "searchParam": [{
                        "name": "clinical-status", "type": kind,
                        "definition": "http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status"}]}]}]}
    assert _errors(statement("token")) == []
    assert ("CapabilityStatement.rest[0].resource[0].searchParam[0].type", "invalid") in _errors(statement("date"))


def test_search_parameter_agrees_with_what_it_is_derived_from():
    derived = {"resourceType": "SearchParameter", "url": "http://x.cn/SearchParameter/org-name", "name": "orgName",
               "status": "active", "description": "name", "code": "name", "base": ["Organization"],
               "type": "string", "expression": "Organization.name",
               "derivedFrom": "http://hl7.org/fhir/SearchParameter/Organization-name"}
    assert _errors(derived) == []
    assert ("SearchParameter.type", "invalid") in _errors({**derived, "type": "token"})
    assert ("SearchParameter.base[0]", "invalid") in _errors({**derived, "base": ["Patient"]})
    composite = {**derived, "type": "composite", "derivedFrom": None,
                 "component": [{"definition": "http://hl7.org/fhir/SearchParameter/Organization-name",
                                "expression": "name"}]}
    del composite["derivedFrom"]
    assert ("SearchParameter.component", "invalid") in _errors(composite)


def test_value_set_compose_systems_are_absolute():
    value_set = {"resourceType": "ValueSet", "status": "active", "url": "http://x.cn/ValueSet/v",
                 "compose": {"include": [{"system": "http://x.cn/CodeSystem/c", "concept": [{"code": "a"}]}]}}
    assert _errors(value_set) == []
    value_set["compose"]["include"][0]["system"] = "#c1"
    assert ("ValueSet.compose.include[0].system", "invalid") in _errors(value_set)


def test_required_binding_on_a_plain_code_element():
    immunization = {"resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "新冠疫苗"},
                    "patient": {"reference": "Patient/1"}, "occurrenceDateTime": "2021-05-12"}
    assert _errors(immunization) == []
    assert ("Immunization.status", "code-invalid") in _errors({**immunization, "status": "Completed"})


def test_an_unknown_extension_is_a_warning_in_validate():
    from fhir_server.validation import Validator, ig

    patient = {"resourceType": "Patient", "extension": [{"url": "http://example.org/fhir/x", "valueString": "x"}]}
    issues = [i for i in Validator(ig.conformance()).validate(patient) if i.expression == ("Patient.extension[0]",)]
    assert [i.severity for i in issues] == ["warning"]


@pytest.mark.parametrize(("start", "end", "holds"), [
    ("2024-05-01T10:00:00+08:00", "2024-05-01T03:00:00Z", True),    # the same instant
    ("2024-05-01T10:00:00+08:00", "2024-05-01T01:59:59Z", False),   # an hour before the start
    ("2024-05-02", "2024-05-01", False),
    ("2024-05-01", "2024-05-01", True),
    ("2024", "2024-03-01", True),                                   # equal as far as both go
    ("2025", "2024-03-01", False),
    ("2024-05-01", "2024-05-01T08:00:00+08:00", True),
])
def test_per_1_compares_instants_with_their_precision(start, end, holds):
    from fhir_server.validation.native_invariants import per_1

    assert per_1({"start": start, "end": end}) is holds
    encounter = {"resourceType": "Encounter", "status": "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "period": {"start": start, "end": end}}
    from fhir_server.validation.base_invariants import base_invariant_issues

    assert (not base_invariant_issues(encounter, "Encounter", errors_only=True)) is holds


def test_the_derived_extension_table_is_in_step_with_the_official_definitions():
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    source = root.parent / "shared" / "fhir-r4"
    if not (source / "extension-definitions.json").exists():
        pytest.skip("the official R4 definitions (../shared/fhir-r4) are not here")
    spec = importlib.util.spec_from_file_location("generate", root / "scripts" / "generate_extension_definitions.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    committed = json.loads((root / "fhir_server" / "validation" / "data" / "r4-extensions.json").read_text())
    assert generate.extensions(source) == committed["extensions"]
