"""The gaps the public validator corpus left open after issue 16's first passes (docs/testing.md):
references between the resources of a Parameters, a Type/uuid reference to a urn:uuid entry of
another type, StructureDefinition differentials, a Bundle signature over other content — each
with the valid neighbour that must stay accepted."""

from __future__ import annotations

import base64
import copy
import json

from fhir_server.validation import validate_resource


def _errors(resource: dict) -> list[tuple[str, str]]:
    return [(i.expression[0] if i.expression else "", i.code) for i in validate_resource(resource) if i.is_error]


# --- Parameters -----------------------------------------------------------------------------

def _member_match(beneficiary: str, *extra: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "MemberPatient", "resource": {"resourceType": "Patient", "id": "1", "gender": "female"}},
        {"name": "NewCoverage", "resource": {
            "resourceType": "Coverage", "id": "c1", "status": "active",
            "beneficiary": {"reference": beneficiary}, "payor": [{"reference": "Organization/o1"}]}},
        *extra]}


def test_a_reference_between_parameter_resources_resolves_among_them():
    assert _errors(_member_match("Patient/1")) == []
    where = "Parameters.parameter[1].resource.beneficiary"
    assert _errors(_member_match("Patient/2")) == [(where, "not-found")]
    # the Parameters carries no Organization: Organization/o1 may be a server's, not judged
    issues = validate_resource(_member_match("Patient/2"))
    assert "Patient/2" in issues[0].diagnostics and "none with id '2'" in issues[0].diagnostics
    # absolute, logical and contained references are not judged
    assert _errors(_member_match("http://other.org/fhir/Patient/2")) == []
    assert _errors(_member_match("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0")) == []


def test_a_reference_naming_a_parameter_resource_of_another_type_is_refused():
    organization = {"name": "Payer", "resource": {"resourceType": "Organization", "id": "o1", "name": "P"}}
    assert _errors(_member_match("Patient/1", organization)) == []
    wrong = _member_match("Patient/1", organization)
    # the Parameters carries Patient 1 and Organization o1: Patient/o1 names the Organization's id
    wrong["parameter"][1]["resource"]["beneficiary"]["reference"] = "Patient/o1"
    issues = [i for i in validate_resource(wrong) if i.is_error]
    assert [(i.expression, i.code) for i in issues] == [(("Parameters.parameter[1].resource.beneficiary",), "invalid")]
    assert "Organization" in issues[0].diagnostics


def test_parameter_resources_inside_parts_count():
    nested = _member_match("Patient/9")
    nested["parameter"] = [{"name": "group", "part": nested["parameter"]}]
    assert _errors(nested) == [("Parameters.parameter[0].part[1].resource.beneficiary", "not-found")]
    nested["parameter"][0]["part"][1]["resource"]["beneficiary"]["reference"] = "Patient/1"
    assert _errors(nested) == []


def test_a_bundle_in_a_parameter_resolves_its_own_references():
    uuid = "urn:uuid:d12004a7-5ed5-41ab-a8f2-0de5f0c98847"
    params = {"resourceType": "Parameters", "parameter": [
        {"name": "ref", "valueReference": {"reference": uuid}},
        {"name": "bundle", "resource": {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": uuid, "resource": {"resourceType": "Patient"},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": "Patient/7"}},
             "request": {"method": "POST", "url": "Observation"}}]}}]}
    assert _errors(params) == []  # Patient/7 in a transaction: the server's, not the Parameters'


# --- Bundle: Type/uuid against a urn:uuid entry ---------------------------------------------------

def _collection(target_type: str, reference_type: str) -> dict:
    uuid = "5d9588d8-3cd6-4b32-8fb7-ad13694e069d"
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:54fc3e09-e279-4b74-a8ff-2649ec968642",
         "resource": {"resourceType": "Patient", "generalPractitioner": [{"reference": f"{reference_type}/{uuid}"}]}},
        {"fullUrl": f"urn:uuid:{uuid}", "resource": {"resourceType": target_type, "name": [{"text": "x"}]}
         if target_type == "Practitioner" else {"resourceType": target_type, "name": "x"}}]}


def test_a_type_and_uuid_reference_to_a_urn_uuid_entry_of_another_type_is_refused():
    assert _errors(_collection("Organization", "Organization")) == []
    assert _errors(_collection("Practitioner", "Practitioner")) == []
    errors = [i for i in validate_resource(_collection("Organization", "Practitioner")) if i.is_error]
    assert [(i.expression, i.code) for i in errors] == [
        (("Bundle.entry[0].resource.generalPractitioner[0]",), "invalid")]
    assert "entry[1]" in errors[0].diagnostics and "Organization" in errors[0].diagnostics


# --- StructureDefinition differentials -------------------------------------------------------

def _profile(*elements: dict, sd_type: str = "Observation") -> dict:
    return {"resourceType": "StructureDefinition", "url": "http://x.cn/fhir/StructureDefinition/p", "name": "P",
            "status": "draft", "kind": "resource", "abstract": False, "type": sd_type,
            "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{sd_type}", "derivation": "constraint",
            "differential": {"element": list(elements)}}


def test_differential_paths_name_elements_of_the_type():
    good = [{"path": "Observation.valueQuantity"}, {"path": "Observation.value[x]"},
            {"path": "Observation.component.code.coding.system"}, {"path": "Observation.subject.reference"},
            {"path": "Observation.extension.value[x]"}, {"path": "Observation.status.extension"},
            {"path": "Observation.contained.id"}]
    assert _errors(_profile(*({"id": e["path"], **e} for e in good))) == []
    bad = _profile({"id": "Observation.valueQuantity", "path": "Observation.valueBla"})
    assert _errors(bad) == [("StructureDefinition.differential.element[0].path", "invalid")]
    assert _errors(_profile({"id": "Observation.component.valueFoo", "path": "Observation.component.valueFoo"})) == [
        ("StructureDefinition.differential.element[0].path", "invalid")]
    # a name the element tree does not know at all is not judged (another version of the resource)
    assert _errors(_profile({"id": "Observation.component.bla", "path": "Observation.component.bla"})) == []
    assert _errors(_profile({"id": "Patient.name", "path": "Patient.name"})) == [
        ("StructureDefinition.differential.element[0].path", "invalid")]
    logical = _profile({"id": "Observation.valueBla", "path": "Observation.valueBla"})
    logical["derivation"] = "specialization"
    assert _errors(logical) == []


def test_a_type_profile_is_for_the_elements_type():
    def typed(code: str, profile: str) -> dict:
        return _profile({"id": "Observation.valueQuantity", "path": "Observation.valueQuantity",
                         "type": [{"code": code, "profile": [f"http://hl7.org/fhir/StructureDefinition/{profile}"]}]})
    assert _errors(typed("Quantity", "Count")) == [
        ("StructureDefinition.differential.element[0].type[0].profile[0]", "invalid")]
    assert _errors(typed("Quantity", "SimpleQuantity")) == []  # a profile of Quantity (not held as a type)
    assert _errors(typed("Quantity", "Quantity")) == []
    entry = _profile({"id": "Bundle.entry.resource", "path": "Bundle.entry.resource",
                      "type": [{"code": "Resource", "profile": ["http://hl7.org/fhir/StructureDefinition/Patient"]}]},
                     sd_type="Bundle")
    assert _errors(entry) == []


# --- Bundle signature ----------------------------------------------------------------------------

DOCUMENT = "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json#document"


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signed(bundle: dict, payload: dict | None, target: str = DOCUMENT) -> dict:
    header = _b64url(json.dumps({"alg": "RS256"}).encode())
    body = _b64url(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()) if payload is not None else b""
    jws = header + b"." + body + b"." + _b64url(b"not-a-real-signature")
    return {**bundle, "signature": {
        "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.5"}],
        "when": "2020-10-23T04:54:56Z", "who": {"display": "Dr Hancock"}, "targetFormat": target,
        "sigFormat": "application/jose", "data": base64.b64encode(jws).decode()}}


def test_a_signature_over_other_content_is_refused():
    bundle = {"resourceType": "Bundle", "id": "b1", "meta": {"versionId": "3"}, "type": "collection",
              "entry": [{"fullUrl": "http://x.cn/fhir/Patient/1", "resource": {"resourceType": "Patient", "id": "1"}}]}
    content = {k: v for k, v in bundle.items() if k not in ("id", "meta")}
    assert _errors(_signed(bundle, content)) == []  # id and meta are outside the document canonicalization
    changed = copy.deepcopy(bundle)
    changed["entry"][0]["resource"]["gender"] = "male"
    assert _errors(_signed(changed, content)) == [("Bundle.signature", "invalid")]
    # a detached JWS, or another canonicalization, is not compared
    assert _errors(_signed(changed, None)) == []
    assert _errors(_signed(changed, content, "application/fhir+json")) == []
    not_json = _signed(changed, content)
    header, _, rest = base64.b64decode(not_json["signature"]["data"]).partition(b".")
    not_json["signature"]["data"] = base64.b64encode(header + b"." + _b64url(b"<xml/>") + b"."
                                                     + rest.split(b".")[1]).decode()
    assert _errors(not_json) == [("Bundle.signature.data", "invalid")]
