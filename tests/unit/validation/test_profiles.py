"""The profile validator on small test profiles (tests/validation_profiles.py): each kind of
constraint, broken one at a time, fails with its issue code and FHIRPath location; the good
instances validate clean (SPEC §3 "Validation")."""

from __future__ import annotations

import copy

import pytest
from validation_profiles import ETHNICITY_CS, HEALTH_RECORD, ID_CARD, RESOURCES, SD

from fhir_server.core.national_ids import id_check_digit
from fhir_server.validation import Conformance, UnknownProfile, Validator

ID17 = "11010519491231002"
ID18 = ID17 + id_check_digit(ID17)
WRONG_DIGIT = ID17 + ("0" if ID18[-1] != "0" else "1")
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(Conformance(RESOURCES))


def ethnicity(code: str = "01", key: str = "valueCodeableConcept", value: object = None) -> dict:
    return {"url": SD + "test-ethnicity", key: value or {"coding": [{"system": ETHNICITY_CS, "code": code}]}}


PATIENT = {
    "resourceType": "Patient", "id": "p1", "meta": {"profile": [SD + "test-patient"]},
    "extension": [ethnicity()],
    "identifier": [{"system": ID_CARD, "value": ID18}, {"system": HEALTH_RECORD, "value": "32010200100100001"}],
    "active": True, "name": [{"text": "张三"}], "gender": "male",
    "maritalStatus": {"coding": [{"system": MARITAL, "code": "M"}]},
    "contact": [{"relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                               "code": "C"}]}], "name": {"text": "李四"}}],
    "generalPractitioner": [{"reference": "Practitioner/d1"}],
    "managingOrganization": {"reference": "Organization/o1"},
}
ORGANIZATION = {"resourceType": "Organization", "id": "o1", "meta": {"profile": [SD + "test-organization"]},
                "name": "城关社区卫生服务中心", "type": [{"text": "基层医疗卫生机构"}]}
HOSPITAL = {"url": SD + "test-hospital", "extension": [
    {"url": "level", "valueCode": "district"},
    {"url": "organization", "valueReference": {"reference": "Organization/h1"}}]}
CONTRACT = {"resourceType": "Contract", "meta": {"profile": [SD + "test-contract"]}, "status": "executed",
            "extension": [HOSPITAL], "subject": [{"reference": "Patient/p1"}]}
BP = {"resourceType": "Observation", "meta": {"profile": [SD + "test-bp"]}, "status": "final",
      "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "vital-signs"}]}],
      "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "血压"},
      "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 128}},
                    {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 82}}],
      "performer": [{"reference": "Practitioner/d1", "identifier": {"value": "D001"}}]}
BUNDLE = {"resourceType": "Bundle", "meta": {"profile": [SD + "test-bundle"]}, "type": "collection",
          "entry": [{"fullUrl": "http://example.org/fhir/Patient/p1", "resource": PATIENT},
                    {"fullUrl": "http://example.org/fhir/Organization/o1", "resource": ORGANIZATION}]}
GOOD = {"patient": PATIENT, "organization": ORGANIZATION, "contract": CONTRACT, "bp": BP, "bundle": BUNDLE}


def change(base: str, *edits):
    """A broken copy of GOOD[base]: each edit is (path, value); ... deletes, an index one past the end appends."""
    def make() -> dict:
        out = copy.deepcopy(GOOD[base])
        for path, value in edits:
            node = out
            for part in path[:-1]:
                node = node[part]
            if value is ...:
                del node[path[-1]]
            elif isinstance(node, list) and path[-1] == len(node):
                node.append(value)
            else:
                node[path[-1]] = value
        return out
    return make


# (case, broken instance, issue code, expression, severity)
CASES = [
    ("id card check digit", change("patient", (["identifier", 0, "value"], WRONG_DIGIT)),
     "invariant", "Patient.identifier[0].value", "error"),
    ("id card 17 digits", change("patient", (["identifier", 0, "value"], ID17)),
     "invariant", "Patient.identifier[0].value", "error"),
    ("id card slice missing", change("patient", (["identifier"], [{"system": HEALTH_RECORD,
                                                                   "value": "32010200100100001"}])),
     "required", "Patient.identifier", "error"),
    ("id card slice twice", change("patient", (["identifier", 1], {"system": ID_CARD, "value": ID18})),
     "structure", "Patient.identifier", "error"),
    ("health record not 17 digits", change("patient", (["identifier", 1, "value"], "3201020010010000")),
     "invariant", "Patient.identifier[1].value", "error"),
    ("fixed value", change("patient", (["active"], False)), "value", "Patient.active", "error"),
    ("profile minimum", change("patient", (["gender"], ...)), "required", "Patient.gender", "error"),
    ("profile maximum 0", change("patient", (["communication"], [{"language": {"text": "中文"}}])),
     "structure", "Patient.communication", "error"),
    ("choice type not allowed", change("patient", (["deceasedDateTime"], "2020-01-01")),
     "structure", "Patient.deceasedDateTime", "error"),
    ("required binding", change("patient", (["maritalStatus", "coding", 0, "code"], "D")),
     "code-invalid", "Patient.maritalStatus", "error"),
    ("pattern", change("patient", (["contact", 0, "relationship", 0, "coding", 0, "code"], "E")),
     "value", "Patient.contact[0].relationship[0]", "error"),
    ("root invariant", change("patient", (["name"], ...)), "invariant", "Patient", "error"),
    ("reference target type", change("patient", (["managingOrganization"], {"reference": "Patient/p2"})),
     "structure", "Patient.managingOrganization", "error"),
    ("reference target type (absolute url)", change("patient", (["generalPractitioner", 0],
                                                                {"reference": "http://x.org/fhir/Organization/o9"})),
     "structure", "Patient.generalPractitioner[0]", "error"),
    ("extension binding", change("patient", (["extension", 0], ethnicity("99"))),
     "code-invalid", "Patient.extension[0].valueCodeableConcept", "error"),
    ("extension value type", change("patient", (["extension", 0], ethnicity(key="valueString", value="汉族"))),
     "structure", "Patient.extension[0].valueString", "error"),
    ("extension slice maximum", change("patient", (["extension", 1], ethnicity("02"))),
     "structure", "Patient.extension", "error"),
    ("unknown Jiayi extension", change("patient", (["extension", 1], {"url": SD + "jiayi-nope", "valueString": "x"})),
     "structure", "Patient.extension[1]", "error"),
    ("extension context", change("contract", (["extension", 1], ethnicity())),
     "structure", "Contract.extension[1]", "error"),
    ("complex extension binding", change("contract", (["extension", 0, "extension", 0, "valueCode"], "province")),
     "code-invalid", "Contract.extension[0].extension[0].valueCode", "error"),
    ("complex extension missing part", change("contract", (["extension", 0, "extension"], HOSPITAL["extension"][:1])),
     "required", "Contract.extension[0].extension", "error"),
    ("complex extension closed slicing", change("contract", (["extension", 0, "extension", 2],
                                                            {"url": "grade", "valueString": "三甲"})),
     "structure", "Contract.extension[0].extension[2]", "error"),
    ("complex extension reference target", change("contract", (
        ["extension", 0, "extension", 1, "valueReference"], {"reference": "Patient/p1"})),
     "structure", "Contract.extension[0].extension[1].valueReference", "error"),
    ("closed slicing", change("bp", (["component", 1, "code", "coding", 0, "code"], "9999-9")),
     "structure", "Observation.component[1]", "error"),
    ("slice minimum", change("bp", (["component"], BP["component"][:1])), "required", "Observation.component", "error"),
    ("required binding on code", change("bp", (["status"], "preliminary")), "code-invalid", "Observation.status",
     "error"),
    ("extensible binding", change("bp", (["category", 0, "coding", 0, "code"], "laboratory")),
     "code-invalid", "Observation.category[0]", "warning"),
    ("exists discriminator slice maximum", change("bp", (["performer", 1], {"identifier": {"value": "D002"}})),
     "structure", "Observation.performer", "error"),
    ("type discriminator, closed", change("bundle", (["entry", 2], {"resource": {"resourceType": "Practitioner"}})),
     "structure", "Bundle.entry[2]", "error"),
    ("fixed code", change("bundle", (["type"], "batch")), "value", "Bundle.type", "error"),
    ("target profile in the Bundle", change("bundle", (["entry", 1, "resource", "type"], ...),
                                            (["entry", 1, "resource", "meta"], ...)),
     "structure", "Bundle.entry[0].resource.managingOrganization", "error"),
    ("claimed profile of an entry", change("bundle", (["entry", 1, "resource", "name"], ...)),
     "required", "Bundle.entry[1].resource.name", "error"),
]


@pytest.mark.parametrize("name", list(GOOD))
def test_good_instances_validate_clean(validator, name):
    issues = validator.validate(copy.deepcopy(GOOD[name]))
    assert [i for i in issues if i.severity != "warning" or i.code != "invariant"] == []


def test_legacy_15_digit_id_is_accepted(validator):
    patient = change("patient", (["identifier", 0, "value"], "110105491231002"))()
    assert not [i for i in validator.validate(patient) if i.is_error]


@pytest.mark.parametrize(("case", "make", "code", "expression", "severity"), CASES, ids=[c[0] for c in CASES])
def test_each_broken_constraint_is_reported(validator, case, make, code, expression, severity):
    issues = validator.validate(make())
    hits = [i for i in issues if i.code == code and i.expression == (expression,) and i.severity == severity]
    assert hits, f"{case}: expected {severity} {code} at {expression}, got {[(i.code, i.expression) for i in issues]}"
    assert all(i.diagnostics for i in hits)


def test_messages_name_the_chinese_field(validator):
    issues = validator.validate(CASES[0][1]())
    assert any("居民身份证号" in i.diagnostics for i in issues)


def test_profile_discriminator(validator):
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {k: v for k, v in PATIENT.items() if k != "meta"}}]}
    assert not [i for i in validator.validate(bundle, SD + "test-profiled-bundle") if i.is_error]
    del bundle["entry"][0]["resource"]["gender"]
    issues = validator.validate(bundle, SD + "test-profiled-bundle")
    assert [i.expression for i in issues if i.is_error] == [("Bundle.entry",)]


def test_explicit_profile_of_another_type_and_unknown_profile(validator):
    issues = validator.validate(copy.deepcopy(ORGANIZATION), SD + "test-patient")
    assert [(i.code, i.expression) for i in issues if i.is_error] == [("invalid", ("Organization",))]
    with pytest.raises(UnknownProfile):
        validator.validate(copy.deepcopy(ORGANIZATION), SD + "jiayi-nothing")


def test_write_path_checks_jiayi_claims_and_strict_mode_others(validator):
    claimed_other = {"resourceType": "Patient", "meta": {"profile": ["http://example.org/StructureDefinition/x"]}}
    assert validator.write_issues(claimed_other) == []
    strict = Validator(validator.conformance, strict=True)
    assert [i.code for i in strict.write_issues(claimed_other) if i.is_error] == ["not-supported"]
    broken = change("patient", (["gender"], ...))()
    assert any(i.is_error for i in validator.write_issues(broken))
    assert validator.write_issues({"resourceType": "Patient", "gender": "male"}) == []


def test_extensions_are_checked_without_a_profile_claim(validator):
    plain = {"resourceType": "Patient", "extension": [ethnicity()], "name": [{"text": "张三"}]}
    assert not [i for i in validator.validate(copy.deepcopy(plain)) if i.is_error]
    plain["extension"] += [ethnicity("99"), {"url": SD + "jiayi-nope", "valueString": "x"}]
    plain["name"][0]["extension"] = [ethnicity()]
    found = {(i.code, i.expression) for i in validator.validate(plain) if i.is_error}
    assert {("code-invalid", ("Patient.extension[1].valueCodeableConcept",)),
            ("structure", ("Patient.extension[2]",)),
            ("structure", ("Patient.name[0].extension[0]",))} <= found
    assert validator.write_issues(plain) == []  # on write, only claimed profiles are enforced
