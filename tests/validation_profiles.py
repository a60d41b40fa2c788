"""Small StructureDefinitions (with snapshots) for the profile validator's tests: each kind of
constraint the Jiayi IG uses, on a resource the tests can break one rule at a time.

Only the elements a profile constrains are listed in these snapshots; the validator walks
what the snapshot says and leaves the rest to the base R4 checks.
"""

from __future__ import annotations

SD = "https://jiayi.dev/fhir/StructureDefinition/"
ID_CARD = "urn:oid:2.16.156.10011.1.3"
HEALTH_RECORD = "urn:oid:2.16.156.10011.1.2"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643: 15 legacy digits, or 17 digits and the check character '10X98765432'[sum mod 11]
ID_CHECK = ("matches('^[0-9]{15}$') or (matches('^[0-9]{17}[0-9Xx]$') and "
            "'10X98765432'.substring((" + " + ".join(f"substring({i},1).toInteger()*{w}"
                                         for i, w in enumerate(WEIGHTS)) + ") mod 11, 1) = substring(17,1).upper())")


def el(eid: str, min_: int = 0, max_: str = "*", base: tuple[int, str] | None = None, **extra) -> dict:
    path = ".".join(part.split(":")[0] for part in eid.split("."))
    b_min, b_max = base if base else (min_, max_)
    return {"id": eid, "path": path, "min": min_, "max": max_,
            "base": {"path": path, "min": b_min, "max": b_max}, **extra}


def profile(pid: str, type_: str, elements: list[dict], base: str | None = None, **extra) -> dict:
    return {
        "resourceType": "StructureDefinition", "id": pid, "url": SD + pid, "name": pid.title().replace("-", ""),
        "status": "active", "kind": "resource" if type_ != "Extension" else "complex-type", "abstract": False,
        "type": type_, "baseDefinition": base or f"http://hl7.org/fhir/StructureDefinition/{type_}",
        "derivation": "constraint", "snapshot": {"element": elements}, **extra,
    }


def extension(pid: str, context: str, value_elements: list[dict]) -> dict:
    return profile(pid, "Extension", [
        el("Extension", 0, "*"),
        el("Extension.extension", 0, "0", base=(0, "*")),
        el("Extension.url", 1, "1", fixedUri=SD + pid),
        *value_elements,
    ], context=[{"type": "element", "expression": context}])


ETHNICITY_VS = "https://jiayi.dev/fhir/ValueSet/test-ethnicity"
ETHNICITY_CS = "https://jiayi.dev/fhir/CodeSystem/test-ethnicity"
MARITAL_VS = "https://jiayi.dev/fhir/ValueSet/test-marital"

TEST_PATIENT = profile("test-patient", "Patient", [
    el("Patient", 0, "*", constraint=[{"key": "tp-1", "severity": "error", "human": "需要姓名 a name is required",
                                       "expression": "name.exists()"}]),
    el("Patient.extension", 0, "*", slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}),
    el("Patient.extension:ethnicity", 0, "1", base=(0, "*"), short="民族",
       type=[{"code": "Extension", "profile": [SD + "test-ethnicity"]}]),
    el("Patient.identifier", 1, "*", base=(0, "*"),
       slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}),
    el("Patient.identifier:idcard", 1, "1", base=(0, "*"), short="居民身份证号"),
    el("Patient.identifier:idcard.system", 1, "1", base=(0, "1"), fixedUri=ID_CARD),
    el("Patient.identifier:idcard.value", 1, "1", base=(0, "1"), short="居民身份证号",
       constraint=[{"key": "tp-id", "severity": "error", "expression": ID_CHECK,
                    "human": "居民身份证号 must be 18 characters with a valid GB 11643 check digit "
                             "(or 15 legacy digits)"}]),
    el("Patient.identifier:record", 0, "1", base=(0, "*"), short="健康档案编号"),
    el("Patient.identifier:record.system", 1, "1", base=(0, "1"), fixedUri=HEALTH_RECORD),
    el("Patient.identifier:record.value", 1, "1", base=(0, "1"),
       constraint=[{"key": "tp-rec", "severity": "error", "expression": "matches('^[0-9]{17}$')",
                    "human": "健康档案编号 is 17 digits"}]),
    el("Patient.active", 0, "1", fixedBoolean=True),
    el("Patient.gender", 1, "1", base=(0, "1"), short="性别"),
    el("Patient.maritalStatus", 0, "1", binding={"strength": "required", "valueSet": MARITAL_VS}),
    el("Patient.deceased[x]", 0, "1", type=[{"code": "boolean"}]),
    el("Patient.contact", 0, "*"),
    el("Patient.contact.relationship", 1, "*", base=(0, "*"),
       patternCodeableConcept={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                           "code": "C"}]}),
    el("Patient.communication", 0, "0", base=(0, "*")),
    el("Patient.generalPractitioner", 0, "*", type=[{
        "code": "Reference", "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Practitioner"]}]),
    el("Patient.managingOrganization", 1, "1", base=(0, "1"), type=[{
        "code": "Reference", "targetProfile": [SD + "test-organization"]}]),
])

TEST_ORGANIZATION = profile("test-organization", "Organization", [
    el("Organization", 0, "*"),
    el("Organization.name", 1, "1", base=(0, "1")),
    el("Organization.type", 1, "*", base=(0, "*")),
])

TEST_ETHNICITY = extension("test-ethnicity", "Patient", [
    el("Extension.value[x]", 1, "1", base=(0, "1"), type=[{"code": "CodeableConcept"}],
       binding={"strength": "required", "valueSet": ETHNICITY_VS}),
])

TEST_HOSPITAL = profile("test-hospital", "Extension", [
    el("Extension", 0, "2"),
    el("Extension.extension", 2, "*", slicing={"discriminator": [{"type": "value", "path": "url"}],
                                               "rules": "closed"}),
    el("Extension.extension:level", 1, "1", base=(0, "*")),
    el("Extension.extension:level.url", 1, "1", fixedUri="level"),
    el("Extension.extension:level.value[x]", 1, "1", base=(0, "1"), type=[{"code": "code"}],
       binding={"strength": "required", "valueSet": "https://jiayi.dev/fhir/ValueSet/test-level"}),
    el("Extension.extension:organization", 1, "1", base=(0, "*")),
    el("Extension.extension:organization.url", 1, "1", fixedUri="organization"),
    el("Extension.extension:organization.value[x]", 1, "1", base=(0, "1"), type=[
        {"code": "Reference", "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Organization"]}]),
    el("Extension.url", 1, "1", fixedUri=SD + "test-hospital"),
    el("Extension.value[x]", 0, "0", base=(0, "1")),
], context=[{"type": "element", "expression": "Contract"}])

TEST_OBSERVATION = profile("test-bp", "Observation", [
    el("Observation", 0, "*"),
    el("Observation.status", 1, "1", binding={"strength": "required",
                                             "valueSet": "https://jiayi.dev/fhir/ValueSet/test-final-only"}),
    el("Observation.category", 0, "*", binding={"strength": "extensible",
                                              "valueSet": "https://jiayi.dev/fhir/ValueSet/test-category"}),
    el("Observation.component", 2, "*", base=(0, "*"),
       slicing={"discriminator": [{"type": "pattern", "path": "code"}], "rules": "closed"}),
    el("Observation.component:systolic", 1, "1", base=(0, "*")),
    el("Observation.component:systolic.code", 1, "1", patternCodeableConcept={
        "coding": [{"system": "http://loinc.org", "code": "8480-6"}]}),
    el("Observation.component:systolic.value[x]", 1, "1", base=(0, "1"), type=[{"code": "Quantity"}]),
    el("Observation.component:diastolic", 1, "1", base=(0, "*")),
    el("Observation.component:diastolic.code", 1, "1", patternCodeableConcept={
        "coding": [{"system": "http://loinc.org", "code": "8462-4"}]}),
    el("Observation.component:diastolic.value[x]", 1, "1", base=(0, "1"), type=[{"code": "Quantity"}]),
    el("Observation.performer", 0, "*", slicing={"discriminator": [{"type": "exists", "path": "identifier"}],
                                               "rules": "open"}),
    el("Observation.performer:card", 0, "1", base=(0, "*")),
    el("Observation.performer:card.identifier", 1, "1", base=(0, "1")),
])

TEST_CONTRACT = profile("test-contract", "Contract", [
    el("Contract", 0, "*"),
    el("Contract.extension", 0, "*", slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}),
    el("Contract.extension:hospital", 0, "2", base=(0, "*"),
       type=[{"code": "Extension", "profile": [SD + "test-hospital"]}]),
    el("Contract.status", 1, "1", base=(0, "1")),
    el("Contract.subject", 1, "*", base=(0, "*"), type=[{"code": "Reference", "targetProfile": [SD + "test-patient"]}]),
])

TEST_BUNDLE = profile("test-bundle", "Bundle", [
    el("Bundle", 0, "*"),
    el("Bundle.type", 1, "1", fixedCode="collection"),
    el("Bundle.entry", 1, "*", base=(0, "*"),
       slicing={"discriminator": [{"type": "type", "path": "resource"}], "rules": "closed"}),
    el("Bundle.entry:patient", 1, "*", base=(0, "*")),
    el("Bundle.entry:patient.resource", 1, "1", base=(0, "1"), type=[{"code": "Patient"}]),
    el("Bundle.entry:org", 0, "*", base=(0, "*")),
    el("Bundle.entry:org.resource", 1, "1", base=(0, "1"), type=[{"code": "Organization"}]),
])

TEST_PROFILED_BUNDLE = profile("test-profiled-bundle", "Bundle", [
    el("Bundle", 0, "*"),
    el("Bundle.entry", 0, "*", slicing={"discriminator": [{"type": "profile", "path": "resource"}], "rules": "open"}),
    el("Bundle.entry:good", 1, "1", base=(0, "*")),
    el("Bundle.entry:good.resource", 1, "1", base=(0, "1"),
       type=[{"code": "Patient", "profile": [SD + "test-patient"]}]),
])


def code_system(cid: str, codes: list[tuple[str, str]]) -> dict:
    return {"resourceType": "CodeSystem", "id": cid, "url": f"https://jiayi.dev/fhir/CodeSystem/{cid}",
            "status": "active", "content": "complete", "concept": [{"code": c, "display": d} for c, d in codes]}


def value_set(vid: str, include: list[dict]) -> dict:
    return {"resourceType": "ValueSet", "id": vid, "url": f"https://jiayi.dev/fhir/ValueSet/{vid}",
            "status": "active", "compose": {"include": include}}


TERMINOLOGY = [
    code_system("test-ethnicity", [("01", "汉族"), ("02", "蒙古族"), ("03", "回族")]),
    value_set("test-ethnicity", [{"system": ETHNICITY_CS}]),
    value_set("test-marital", [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                "concept": [{"code": "M"}, {"code": "S"}]}]),
    value_set("test-level", [{"system": "https://jiayi.dev/fhir/CodeSystem/test-level",
                              "concept": [{"code": "district"}, {"code": "city"}]}]),
    value_set("test-final-only", [{"system": "http://hl7.org/fhir/observation-status",
                                   "concept": [{"code": "final"}]}]),
    value_set("test-category", [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                 "concept": [{"code": "vital-signs"}]}]),
]
RESOURCES = [TEST_PATIENT, TEST_ORGANIZATION, TEST_ETHNICITY, TEST_HOSPITAL, TEST_OBSERVATION, TEST_CONTRACT,
             TEST_BUNDLE, TEST_PROFILED_BUNDLE, *TERMINOLOGY]
