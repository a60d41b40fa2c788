"""Classes of invalid resources the public validator corpus (FHIR/fhir-test-cases, validator/)
found accepted, each with the valid neighbour that must stay accepted (issue 16 §4; see
scripts/validator_corpus.py and docs/testing.md)."""

from __future__ import annotations

from fhir_server.validation import validate_resource


def _errors(resource: dict) -> list[tuple[str, str]]:
    return [(i.expression[0] if i.expression else "", i.code) for i in validate_resource(resource) if i.is_error]


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
