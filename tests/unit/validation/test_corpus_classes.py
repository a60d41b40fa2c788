"""Classes of invalid resources the public validator corpus (FHIR/fhir-test-cases, validator/)
found accepted, each with the valid neighbour that must stay accepted (issue 16 §4; see
scripts/validator_corpus.py and docs/testing.md)."""

from __future__ import annotations

from functools import cache

from fhir_server.validation import Validator, ig, validate_resource


def _errors(resource: dict) -> list[tuple[str, str]]:
    return [(i.expression[0] if i.expression else "", i.code) for i in validate_resource(resource) if i.is_error]


@cache
def _validator() -> Validator:
    return Validator(ig.conformance())


def _all_errors(resource: dict) -> list[tuple[str, str]]:
    """With the base invariants (what $validate and every write run)."""
    return [(i.expression[0] if i.expression else "", i.code) for i in _validator().validate(resource) if i.is_error]


def _contract(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"resourceType": "Contract", "legalState": {"coding": [coding]}}


def test_an_unknown_code_of_a_code_system_the_server_holds_is_refused():
    system = "http://hl7.org/fhir/contract-legalstate"
    assert ("Contract.legalState.coding[0].code", "code-invalid") in _errors(_contract(system, "invalid-code-test"))
    assert _errors(_contract(system, "executed")) == []
    assert _errors(_contract(system, "EXECUTED")) == []  # case alone never refuses
    assert _errors(_contract(system, "executed", "已执行")) == []  # a display in the client's language
    # code systems the server does not hold (SNOMED CT, LOINC...) are not judged
    assert _errors(_contract("http://snomed.info/sct", "1")) == []
    v3 = {"resourceType": "Encounter", "status": "finished",
          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "NOPE"}}
    assert ("Encounter.class.code", "code-invalid") in _errors(v3)
    v3["class"]["code"] = "AMB"
    assert _errors(v3) == []


def _code_system(**parts) -> dict:
    return {"resourceType": "CodeSystem", "url": "http://x.cn/fhir/CodeSystem/t", "status": "active",
            "content": "complete", **parts}


def test_code_system_parts_that_contradict_each_other():
    concept = [{"code": "a", "display": "A"}]
    assert _errors(_code_system(concept=concept)) == []
    assert ("CodeSystem.concept", "invalid") in _errors(_code_system(content="not-present", concept=concept))
    assert _errors(_code_system(content="not-present")) == []
    assert ("CodeSystem.content", "invalid") in _errors(_code_system(supplements="http://loinc.org", concept=concept))
    assert _errors(_code_system(content="supplement", supplements="http://loinc.org", concept=concept)) == []


def test_code_system_properties_are_declared_once_with_their_standard_type():
    standard = "http://hl7.org/fhir/concept-properties#notSelectable"
    good = [{"uri": standard, "code": "notSelectable", "type": "boolean"}, {"code": "synonym", "type": "string"}]
    concept = [{"code": "a", "property": [{"code": "notSelectable", "valueBoolean": True},
                                          {"code": "synonym", "valueString": "A"}]}]
    assert _errors(_code_system(property=good, concept=concept)) == []
    assert ("CodeSystem.property[0].type", "invalid") in _errors(
        _code_system(property=[{"uri": standard, "code": "notSelectable", "type": "dateTime"}]))
    # declared twice: a warning (the official R4 SNOMED CT CodeSystem does it)
    twice = [*good, {"code": "synonym", "type": "string"}]
    assert [(i.severity, i.expression) for i in validate_resource(_code_system(property=twice))] == [
        ("warning", ("CodeSystem.property[2]",))]
    twice = [good[0], {"uri": standard, "code": "not-selectable", "type": "boolean"}]
    assert [(i.severity, i.expression) for i in validate_resource(_code_system(property=twice))] == [
        ("warning", ("CodeSystem.property[1]",))]
    wrong = [{"code": "a", "concept": [{"code": "b", "property": [{"code": "synonym", "valueInteger": 12}]}]}]
    assert ("CodeSystem.concept[0].concept[0].property[0]", "invalid") in _errors(
        _code_system(property=good, concept=wrong))


def test_a_boolean_property_filter_takes_true_or_false():
    def vs(value):
        return {"resourceType": "ValueSet", "status": "active", "compose": {"include": [{
            "system": "http://terminology.hl7.org/CodeSystem/ex-tooth",
            "filter": [{"property": "notSelectable", "op": "=", "value": value}]}]}}
    assert _errors(vs("true")) == []
    assert ("ValueSet.compose.include[0].filter[0].value", "invalid") in _errors(vs("1"))


def _questionnaire(items: list) -> dict:
    return {"resourceType": "Questionnaire", "status": "active", "item": items}


def _when(question: str) -> dict:
    return {"question": question, "operator": "exists", "answerBoolean": True}


def test_que_12_as_corrected_two_enable_whens_need_an_enable_behavior():
    items = [{"linkId": "a", "type": "boolean"}, {"linkId": "b", "type": "boolean"},
             {"linkId": "c", "type": "string", "enableWhen": [_when("a"), _when("b")]}]
    assert ("Questionnaire.item[2]", "invariant") in _all_errors(_questionnaire(items))
    items[2]["enableBehavior"] = "any"
    assert _all_errors(_questionnaire(items)) == []
    items[2] = {"linkId": "c", "type": "string", "enableWhen": [_when("a")]}
    assert _all_errors(_questionnaire(items)) == []


def test_enable_when_cannot_name_a_question_inside_the_item():
    group = {"linkId": "g", "type": "group", "enableWhen": [_when("g.1")],
             "item": [{"linkId": "g.1", "type": "boolean"}]}
    assert ("Questionnaire.item[0].enableWhen[0].question", "invalid") in _errors(_questionnaire([group]))
    outside = [{"linkId": "q", "type": "boolean"}, {**group, "enableWhen": [_when("q")]}]
    assert _errors(_questionnaire(outside)) == []


def test_a_property_whose_value_is_null_is_refused():
    """fhir-test-cases bundle-sig-2: ``"meta": null`` (JSON null only stands in arrays, aligned with _element)."""
    assert ("Patient.meta", "structure") in _errors({"resourceType": "Patient", "meta": None})
    assert ("Patient.birthDate", "structure") in _errors({"resourceType": "Patient", "birthDate": None})
    aligned = {"resourceType": "Patient", "name": [{"given": [None, "三"], "_given": [{"id": "g0", "extension": [
        {"url": "http://x.cn/ext", "valueString": "未知"}]}, None]}]}
    assert _errors(aligned) == []


def _parameterised(expression: str, language: str = "text/fhirpath") -> dict:
    return {"resourceType": "ValueSet", "status": "active", "extension": [{
        "url": "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter",
        "extension": [{"url": "name", "valueCode": "p-inactive"}]}],
        "compose": {"include": [{"system": "http://snomed.info/sct", "filter": [{
            "property": "inactive", "op": "=", "_value": {"extension": [{
                "url": "http://hl7.org/fhir/StructureDefinition/cqf-expression",
                "valueExpression": {"language": language, "expression": expression}}]}}]}]}}


def test_a_filter_value_expression_is_fhirpath_over_declared_parameters():
    where = "ValueSet.compose.include[0].filter[0]._value"
    assert _errors(_parameterised("%p-inactive")) == []
    assert (where, "invalid") in _errors(_parameterised("%p-inactive3"))
    assert (where, "invalid") in _errors(_parameterised("$ and %p-inactive"))
    assert (where, "invalid") in _errors(_parameterised("%p-inactive", "text/cql"))


def test_a_known_canonical_names_a_type_the_element_allows():
    """fhir-test-cases qr-bad-ref2: a QuestionnaireResponse whose questionnaire is a ValueSet."""
    def response(questionnaire: str) -> dict:
        return {"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": questionnaire}
    assert ("QuestionnaireResponse.questionnaire", "invalid") in _errors(
        response("http://hl7.org/fhir/ValueSet/example-extensional"))
    assert ("QuestionnaireResponse.questionnaire", "invalid") in _errors(
        response("http://hl7.org/fhir/ValueSet/example-extensional|4.0.1"))
    assert _errors(response("http://x.cn/fhir/Questionnaire/unknown-here")) == []
    assert _errors(response("Questionnaire/q1")) == []
    profiled = {"resourceType": "Patient", "meta": {"profile": ["https://jiayi.dev/fhir/StructureDefinition/"
                                                                "jiayi-patient"]}}
    assert [e for e in _errors(profiled) if e[0].startswith("Patient.meta")] == []
    bad = {"resourceType": "Patient", "meta": {"profile": ["http://hl7.org/fhir/ValueSet/administrative-gender"]}}
    assert ("Patient.meta.profile[0]", "invalid") in _errors(bad)


def test_a_code_system_url_for_a_value_set_is_only_a_warning():
    """R4's own ExplanationOfBenefit binds a priority to the processpriority CodeSystem url."""
    vs = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [{
        "valueSet": ["http://terminology.hl7.org/CodeSystem/processpriority"]}]}}
    found = [(i.severity, i.expression) for i in validate_resource(vs) if i.code == "invalid"]
    assert found == [("warning", ("ValueSet.compose.include[0].valueSet[0]",))]
