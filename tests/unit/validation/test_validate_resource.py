"""validate_resource: each kind of issue, with its code and FHIRPath location (FHIR R4 §2 baseline)."""

from __future__ import annotations

import copy

import pytest

from fhir_server.validation import validate_resource

OBSERVATION = {
    "resourceType": "Observation",
    "id": "bp-1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "收缩压"},
    "subject": {"reference": "Patient/p1"},
    "effectiveDateTime": "2023-03-01T09:30:00+08:00",
    "valueQuantity": {"value": 128, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
}
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"family": "王", "given": ["小明", "明"]}],
    "gender": "male",
    "birthDate": "1990-03-07",
}


def patched(base: dict, path: list, value: object) -> dict:
    """A copy of ``base`` with ``value`` at ``path`` (``...`` as value deletes the key)."""
    out = copy.deepcopy(base)
    node = out
    for part in path[:-1]:
        node = node[part]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def bundle_with(resource: dict) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": PATIENT, "request": {"method": "POST", "url": "Patient"}},
        {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}},
    ]}


CASES = [
    # (case id, resource, expected code, expected expression)
    ("missing status", patched(OBSERVATION, ["status"], ...), "required", "Observation.status"),
    ("missing code", patched(OBSERVATION, ["code"], ...), "required", "Observation.code"),
    ("unknown element", patched(PATIENT, ["nickname"], "小王"), "structure", "Patient.nickname"),
    ("unknown nested element", patched(PATIENT, ["name", 0, "middle"], "x"), "structure", "Patient.name[0].middle"),
    ("choice base name", patched(OBSERVATION, ["value"], 1), "structure", "Observation.value"),
    ("wrong type: number for string", patched(PATIENT, ["name", 0, "given", 1], 3), "structure",
     "Patient.name[0].given[1]"),
    ("wrong type: object for array", patched(PATIENT, ["name"], {"family": "王"}), "structure", "Patient.name"),
    ("wrong type: string for decimal", patched(OBSERVATION, ["valueQuantity", "value"], "128"), "structure",
     "Observation.valueQuantity.value"),
    ("bad date 2023-02-30", patched(PATIENT, ["birthDate"], "2023-02-30"), "value", "Patient.birthDate"),
    ("bad date 2023-13-45", patched(PATIENT, ["birthDate"], "2023-13-45"), "value", "Patient.birthDate"),
    ("bad date 2023-04-31", patched(PATIENT, ["birthDate"], "2023-04-31"), "value", "Patient.birthDate"),
    ("date with time", patched(PATIENT, ["birthDate"], "1990-03-07T10:00:00+08:00"), "value", "Patient.birthDate"),
    ("dateTime without timezone", patched(OBSERVATION, ["effectiveDateTime"], "2023-03-01T09:30:00"), "value",
     "Observation.effectiveDateTime"),
    ("instant without timezone", patched(OBSERVATION, ["issued"], "2023-03-01T09:30:00"), "value",
     "Observation.issued"),
    ("instant date only", patched(OBSERVATION, ["issued"], "2023-03-01"), "value", "Observation.issued"),
    ("instant on 2023-02-29", patched(OBSERVATION, ["issued"], "2023-02-29T09:30:00Z"), "value",
     "Observation.issued"),
    ("bad id", patched(PATIENT, ["id"], "p 1"), "value", "Patient.id"),
    ("id too long", patched(PATIENT, ["id"], "x" * 65), "value", "Patient.id"),
    ("id with trailing newline", patched(PATIENT, ["id"], "p1\n"), "value", "Patient.id"),
    ("code with double space", patched(OBSERVATION, ["code", "coding", 0, "code"], "8480  6"), "value",
     "Observation.code.coding[0].code"),
    ("uri with space", patched(OBSERVATION, ["code", "coding", 0, "system"], "http://loinc .org"), "value",
     "Observation.code.coding[0].system"),
    ("decimal as float with fraction for integer", patched(
        {"resourceType": "ImmunizationRecommendation", "patient": {"reference": "Patient/p1"},
         "date": "2023-03-01T09:30:00+08:00",
         "recommendation": [{"targetDisease": {"text": "乙肝"}, "forecastStatus": {"text": "due"},
                             "doseNumberPositiveInt": 1}]},
        ["recommendation", 0, "doseNumberPositiveInt"], 1.5), "value",
     "ImmunizationRecommendation.recommendation[0].doseNumberPositiveInt"),
    ("positiveInt zero", patched(
        {"resourceType": "ImmunizationRecommendation", "patient": {"reference": "Patient/p1"},
         "date": "2023-03-01T09:30:00+08:00",
         "recommendation": [{"targetDisease": {"text": "乙肝"}, "forecastStatus": {"text": "due"},
                             "doseNumberPositiveInt": 1}]},
        ["recommendation", 0, "doseNumberPositiveInt"], 0), "value",
     "ImmunizationRecommendation.recommendation[0].doseNumberPositiveInt"),
    ("empty string", patched(PATIENT, ["name", 0, "family"], ""), "value", "Patient.name[0].family"),
    ("whitespace string", patched(PATIENT, ["name", 0, "given", 0], "  "), "value", "Patient.name[0].given[0]"),
    ("empty object", patched(PATIENT, ["maritalStatus"], {}), "structure", "Patient.maritalStatus"),
    ("empty array", patched(PATIENT, ["telecom"], []), "structure", "Patient.telecom"),
    ("null value", patched(PATIENT, ["gender"], None), "structure", "Patient.gender"),
    ("null in array without _given", patched(PATIENT, ["name", 0, "given", 1], None), "structure",
     "Patient.name[0].given[1]"),
    ("code outside required value set", patched(PATIENT, ["gender"], "M"), "code-invalid", "Patient.gender"),
    ("CodeableConcept outside required value set", {
        "resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "cured"}]}}, "code-invalid", "AllergyIntolerance.clinicalStatus"),
    ("missing Narrative.div", patched(PATIENT, ["text"], {"status": "generated"}), "required", "Patient.text.div"),
    ("missing Narrative.status", patched(PATIENT, ["text"], {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">王小明</div>"}),
     "required", "Patient.text.status"),
    ("missing Extension.url", patched(PATIENT, ["extension"], [{"valueString": "汉族"}]), "required",
     "Patient.extension[0].url"),
    ("missing backbone element", patched(OBSERVATION, ["component"], [{"valueQuantity": {"value": 80}}]),
     "required", "Observation.component[0].code"),
    ("missing Bundle.type", patched(bundle_with(OBSERVATION), ["type"], ...), "required", "Bundle.type"),
    ("contained resource error", patched(OBSERVATION, ["contained"], [patched(PATIENT, ["birthDate"], "2023-02-30")]),
     "value", "Observation.contained[0].birthDate"),
    ("contained unknown element", patched(OBSERVATION, ["contained"], [patched(PATIENT, ["foo"], 1)]),
     "structure", "Observation.contained[0].foo"),
    ("Bundle entry resource error", bundle_with(patched(OBSERVATION, ["status"], ...)), "required",
     "Bundle.entry[1].resource.status"),
    ("Bundle entry resource unknown type", bundle_with({"resourceType": "Patientt"}), "invalid",
     "Bundle.entry[1].resource"),
    ("Parameters resource error", {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patched(PATIENT, ["gender"], "M")}]}, "code-invalid",
     "Parameters.parameter[0].resource.gender"),
    ("unknown resourceType", {"resourceType": "Resident", "id": "1"}, "invalid", "Resident"),
    ("missing resourceType", {"id": "1"}, "required", "Resource"),
]


@pytest.mark.parametrize("resource, code, expression", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_issue_code_and_expression(resource, code, expression):
    issues = validate_resource(resource)
    found = [(i.code, i.expression) for i in issues]
    assert (code, (expression,)) in found, found
    assert len(issues) == 1, [i.to_fhir() for i in issues]
    assert issues[0].is_error and issues[0].diagnostics


def test_valid_resources_give_no_issues():
    assert validate_resource(PATIENT) == []
    assert validate_resource(OBSERVATION) == []
    assert validate_resource(bundle_with(OBSERVATION)) == []


def test_wrong_resource_type_for_expected():
    issues = validate_resource(PATIENT, expected_type="Observation")
    assert [(i.code, i.expression) for i in issues] == [("invalid", ("Patient",))]
    assert "Observation" in issues[0].diagnostics


@pytest.mark.parametrize("value", [[], "Patient", 3, None])
def test_not_an_object(value):
    issues = validate_resource(value, expected_type="Patient")
    assert [(i.code, i.expression) for i in issues] == [("structure", ("Patient",))]


def test_all_issues_at_once():
    resource = patched(OBSERVATION, ["status"], ...)
    resource["effectiveDateTime"] = "2023-02-30"
    resource["colour"] = "red"
    issues = validate_resource(resource)
    assert sorted((i.code, i.expression[0]) for i in issues) == [
        ("required", "Observation.status"),
        ("structure", "Observation.colour"),
        ("value", "Observation.effectiveDateTime"),
    ]


def test_messages_are_actionable():
    by_expr = {i.expression[0]: i.diagnostics for i in validate_resource({
        "resourceType": "Patient", "birthdate": "1990-01-01", "deceasedDateTime": "2023-02-30",
        "meta": {"lastUpdated": "2023-01-01T10:00:00"}})}
    assert "birthDate" in by_expr["Patient.birthdate"]  # did you mean
    assert "February 2023 has 28 days" in by_expr["Patient.deceasedDateTime"]
    assert "time zone" in by_expr["Patient.meta.lastUpdated"]


def test_primitive_extension_partner():
    ok = patched(PATIENT, ["name", 0, "given"], ["小明", None])
    ok["name"][0]["_given"] = [None, {"extension": [{"url": "http://example.org/pinyin", "valueString": "Ming"}]}]
    assert validate_resource(ok) == []
    ok["_birthDate"] = {"extension": [{"url": "http://example.org/lunar", "valueString": "二月初五"}]}
    assert validate_resource(ok) == []
    misaligned = copy.deepcopy(ok)
    misaligned["name"][0]["_given"] = [None, {"id": "x"}, {"id": "y"}]
    assert [i.expression for i in validate_resource(misaligned)] == [("Patient.name[0]._given",)]


def test_required_primitive_satisfied_by_extension_only():
    # min 1 is met by the element carrying an extension instead of a value (a cross-version
    # extension holding a code of a later release)
    resource = patched(OBSERVATION, ["status"], ...)
    resource["_status"] = {"extension": [{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-x",
                                          "valueCode": "cancelled"}]}
    assert validate_resource(resource) == []


def test_required_code_with_data_absent_reason_is_not_a_code():
    # a required binding asks for a code from its value set; a data-absent-reason says there is
    # none (fhir-test-cases allergy: the Java validator and the Firely SDK both refuse it)
    dar = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    resource = patched(OBSERVATION, ["status"], ...)
    resource["_status"] = dar
    issues = validate_resource(resource)
    assert [(i.code, i.severity, i.expression) for i in issues] == [("code-invalid", "error", ("Observation.status",))]
    assert "observation-status" in issues[0].diagnostics and "data-absent-reason" in issues[0].diagnostics
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
               "category": ["food", None], "_category": [None, dar]}
    assert [i.expression for i in validate_resource(allergy)] == [("AllergyIntolerance.category[1]",)]
    allergy["_category"] = [dar]
    del allergy["category"]
    assert [i.expression for i in validate_resource(allergy)] == [("AllergyIntolerance.category[0]",)]
    allergy["category"], allergy["_category"] = ["food"], [dar]  # a value and a DAR: the value is the code
    assert validate_resource(allergy) == []
    # not bound: a DAR on a plain string is fine
    patient = {"resourceType": "Patient", "_birthDate": dar, "name": [{"_family": dar}]}
    assert validate_resource(patient) == []


@pytest.mark.parametrize("value", ["2024-02-29", "2023", "2023-02", "2023-12-31"])
def test_good_dates(value):
    assert validate_resource(patched(PATIENT, ["birthDate"], value)) == []


@pytest.mark.parametrize("value", ["2023-03-01T09:30:00Z", "2023-03-01T09:30:00.123+08:00", "2016-12-31T23:59:60Z"])
def test_good_instants(value):
    assert validate_resource(patched(OBSERVATION, ["issued"], value)) == []


def test_chinese_text_with_ideographic_space_is_a_valid_string():
    assert validate_resource(patched(PATIENT, ["name", 0, "text"], "王\u3000小明")) == []


def test_deeply_nested_input_is_an_issue_not_a_crash():
    item: dict = {"linkId": "1", "type": "group"}
    root = item
    for _ in range(5000):
        child = {"linkId": "1", "type": "group"}
        item["item"] = [child]
        item = child
    issues = validate_resource({"resourceType": "Questionnaire", "status": "active", "item": [root]})
    assert issues and issues[0].code == "structure"
