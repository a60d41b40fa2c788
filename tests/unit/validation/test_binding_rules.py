"""Required and extensible bindings at their edges (FHIR R4 terminologies.html §4.1): a code in and
out of the set, a code in the wrong system, a Coding without a code, a CodeableConcept with text
alone, shapes reported elsewhere, a versioned binding, a value set not known here, and the
messages word for word.  Written from the mutation run of validation/bindings.py (docs/testing.md)."""

from __future__ import annotations

import pytest

from fhir_server.validation import validate_resource
from fhir_server.validation.bindings import check_binding, check_code, check_extensible

GENDER = "http://hl7.org/fhir/ValueSet/administrative-gender"
GENDER_CS = "http://hl7.org/fhir/administrative-gender"
CONTRACT_STATUS = "http://hl7.org/fhir/ValueSet/contract-status"  # 15 codes
ITEM_TYPE = "http://hl7.org/fhir/ValueSet/item-type"  # 17 codes
DETECTED = "http://hl7.org/fhir/ValueSet/detectedissue-status"  # codes from two systems
CLINICAL = "http://hl7.org/fhir/ValueSet/allergyintolerance-clinical"
CLINICAL_CS = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
AE_CATEGORY = "http://hl7.org/fhir/ValueSet/adverse-event-category"  # extensible, 14 codes
AE_CS = "http://terminology.hl7.org/CodeSystem/adverse-event-category"
UNKNOWN = "http://hl7.org/fhir/ValueSet/no-such-value-set"


# --- code ----------------------------------------------------------------------------------------

def test_a_code_in_its_required_value_set_passes_in_any_of_its_systems():
    assert check_code("male", GENDER) is None
    assert check_code("male", GENDER + "|4.0.1") is None
    assert check_code("final", DETECTED) is None
    assert check_code("mitigated", DETECTED) is None
    assert check_code("anything", UNKNOWN) is None


def test_a_code_outside_lists_every_allowed_code_up_to_15():
    assert check_code("Male", GENDER + "|4.0.1") == (
        f"Code 'Male' is not in the required value set {GENDER}; allowed codes: female, male, other, unknown")
    message = check_code("x", CONTRACT_STATUS)
    assert message is not None and message.endswith(", terminated") and "codes)" not in message
    assert message.count(", ") == 14


def test_a_code_outside_a_set_of_more_than_15_lists_15_and_the_count():
    assert check_code("x", ITEM_TYPE) == (
        f"Code 'x' is not in the required value set {ITEM_TYPE}; allowed codes: attachment, boolean, choice, "
        "date, dateTime, decimal, display, group, integer, open-choice, quantity, question, reference, string, "
        "text, ... (17 codes)")


# --- Coding and CodeableConcept, required ----------------------------------------------------------

@pytest.mark.parametrize("coding", [
    {"system": CLINICAL_CS, "code": "active"},
    {"system": CLINICAL_CS, "display": "no code: nothing to judge"},
    {"display": "no code"},
    {"system": 5, "code": "active"},  # not a string: reported by the structure check
    {"system": CLINICAL_CS, "code": ["active"]},
])
def test_a_coding_that_passes_a_required_binding(coding):
    assert check_binding("Coding", coding, CLINICAL) is None


@pytest.mark.parametrize("coding", [
    {"system": CLINICAL_CS, "code": "gone"},
    {"system": "http://x.cn/cs", "code": "active"},  # the right code in another system
    {"code": "active"},  # a code without its system
])
def test_a_coding_outside_a_required_binding(coding):
    assert check_binding("Coding", coding, CLINICAL + "|4.0.1") == (
        f"No code from the required value set {CLINICAL} ({CLINICAL_CS}: active, inactive, resolved)")


@pytest.mark.parametrize(("concept", "ok"), [
    ({"coding": [{"system": CLINICAL_CS, "code": "active"}]}, True),
    ({"coding": [{"system": "http://x.cn/cs", "code": "zz"}, {"system": CLINICAL_CS, "code": "resolved"}]}, True),
    ({"coding": ["not a coding"]}, True),  # a wrong shape is reported elsewhere
    ({"coding": [{"system": "http://x.cn/cs", "code": "zz"}]}, False),
    ({"coding": []}, False),
    ({"text": "活动期"}, False),  # a required binding needs a code
    ({"coding": {"system": CLINICAL_CS, "code": "active"}}, False),  # not a list
])
def test_a_codeable_concept_and_a_required_binding(concept, ok):
    message = check_binding("CodeableConcept", concept, CLINICAL)
    assert (message is None) == ok, message


def test_the_message_names_each_system_with_its_first_12_codes():
    assert check_binding("Coding", {"system": "s", "code": "c"}, DETECTED) == (
        f"No code from the required value set {DETECTED} (http://hl7.org/fhir/observation-status: "
        "entered-in-error, final, preliminary; http://hl7.org/fhir/detectedissue-status: mitigated)")
    assert check_binding("Coding", {"system": "s", "code": "c"}, UNKNOWN) is None


def test_a_required_binding_in_a_resource_is_an_error_naming_the_element():
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/1"},
               "clinicalStatus": {"coding": [{"system": CLINICAL_CS, "code": "gone"}]}}
    issues = [i for i in validate_resource(allergy) if i.is_error]
    assert [(i.code, i.expression) for i in issues] == [("code-invalid", ("AllergyIntolerance.clinicalStatus",))]
    allergy["clinicalStatus"]["coding"][0]["code"] = "active"
    assert not [i for i in validate_resource(allergy) if i.is_error]


# --- extensible ------------------------------------------------------------------------------------

AE_ALLOWED = ("expired-drug, incorrect-prescribing-information, medical-device-use-error, "
              "problem-different-manufacturer, product-problem, product-quality, product-use-error, "
              "unsafe-physical-environment, wrong-dose, wrong-duration, wrong-rate, wrong-route-of-administration")


def test_an_extensible_message_names_what_was_sent_and_the_first_12_codes():
    concept = {"coding": [{"code": "c"}, {"system": "s", "code": "d"}, {"system": "s", "display": "no code"}]}
    assert check_extensible("CodeableConcept", concept, AE_CATEGORY + "|4.0.1") == (
        f"c, s|d is not in the extensible value set {AE_CATEGORY} ({AE_CS}: {AE_ALLOWED}): use one of its "
        "codes when one applies")
    assert check_extensible("code", "zz", AE_CATEGORY) == (
        f"zz is not in the extensible value set {AE_CATEGORY} ({AE_CS}: {AE_ALLOWED}): use one of its codes "
        "when one applies")


@pytest.mark.parametrize(("type_code", "value"), [
    ("code", "wrong-dose"),
    ("code", 5),  # not a string: reported elsewhere
    ("Coding", {"system": AE_CS, "code": "wrong-dose"}),
    ("Coding", {"display": "text only"}),
    ("Coding", "not a coding"),
    ("CodeableConcept", {"text": "自述"}),
    ("CodeableConcept", {"coding": [{"system": "s", "code": "zz"}, {"system": AE_CS, "code": "wrong-rate"}]}),
    ("CodeableConcept", {"coding": [{"system": "s", "display": "no code"}]}),
    ("CodeableConcept", {"coding": "zz"}),
    ("CodeableConcept", "not a concept"),
    ("CodeableConcept", {"coding": [{"system": 5, "code": "zz"}]}),
])
def test_what_an_extensible_binding_does_not_warn_about(type_code, value):
    assert check_extensible(type_code, value, AE_CATEGORY) is None


@pytest.mark.parametrize(("type_code", "value"), [
    ("Coding", {"system": AE_CS, "code": "nope"}),
    ("Coding", {"code": "wrong-dose"}),  # no system: not the set's code
    ("CodeableConcept", {"coding": [{"system": "s", "code": "wrong-dose"}]}),
])
def test_what_an_extensible_binding_warns_about(type_code, value):
    assert check_extensible(type_code, value, AE_CATEGORY) is not None


def test_messages_join_systems_with_a_semicolon_and_list_12_codes_of_each():
    message = check_extensible("Coding", {"system": "s", "code": "c"}, "http://hl7.org/fhir/ValueSet/audit-entity-type")
    assert message is not None
    assert ("(http://terminology.hl7.org/CodeSystem/audit-entity-type: 1, 2, 3, 4; "
            "http://hl7.org/fhir/resource-types: ") in message
    required = check_binding("Coding", {"system": "s", "code": "c"}, CONTRACT_STATUS)  # 15 codes, one system
    assert required == (f"No code from the required value set {CONTRACT_STATUS} (http://hl7.org/fhir/contract-status: "
                        "amended, appended, cancelled, disputed, entered-in-error, executable, executed, negotiable, "
                        "offered, policy, rejected, renewed)")
