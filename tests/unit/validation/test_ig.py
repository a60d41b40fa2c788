"""The IG in profiles/ (SPEC §3): every example instance validates clean, and for every Jiayi
profile, each kind of constraint it places (cardinality, fixed/pattern, slices, required
bindings, reference targets, extensions) fails with the expected issue when broken
(tests/ig_mutations.py derives the broken instances from the profile's snapshot).  Plus the
身份证 rules of jiayi-patient: the GB 11643 check digit, and 15-digit legacy numbers accepted."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ig_mutations import mutations

from fhir_server.core import jsonio
from fhir_server.validation import Conformance, Validator
from fhir_server.validation.ig import IG_DIRECTORY

SD = "https://jiayi.dev/fhir/StructureDefinition/"
ID_CARD = "urn:oid:2.16.156.10011.1.3"
DEFINITIONAL = {"StructureDefinition", "ValueSet", "CodeSystem", "NamingSystem", "SearchParameter", "ConceptMap",
                "OperationDefinition", "ImplementationGuide", "CapabilityStatement"}


def _resources() -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    for path in sorted(IG_DIRECTORY.rglob("*.json")) if IG_DIRECTORY.is_dir() else []:
        try:
            resource = jsonio.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 - not JSON: not part of the IG
            continue
        name = str(path.relative_to(IG_DIRECTORY))
        if isinstance(resource, dict) and resource.get("resourceType") == "Bundle" and \
                all(isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") in DEFINITIONAL
                    for e in resource.get("entry") or [{}]):
            out += [(f"{name}#{i}", e["resource"]) for i, e in enumerate(resource.get("entry") or [])]
        elif isinstance(resource, dict):
            out.append((name, resource))
    return out


RESOURCES = _resources()
CONFORMANCE = Conformance([r for _n, r in RESOURCES])
EXAMPLES = [(n, r) for n, r in RESOURCES if r.get("resourceType") not in DEFINITIONAL]
PROFILES = sorted(url for url, sd in CONFORMANCE.structures.items()
                  if url.startswith(SD) and sd.get("derivation") == "constraint" and sd.get("type") != "Extension")


def _claims(resource: dict) -> list[str]:
    return [p for p in (resource.get("meta") or {}).get("profile") or [] if p.startswith(SD)]


def _examples_of(url: str) -> list[dict]:
    return [r for _n, r in EXAMPLES if url in _claims(r)]


MUTATIONS = [(url.rsplit("/", 1)[-1], m) for url in PROFILES for example in _examples_of(url)[:1]
             for m in mutations(CONFORMANCE, CONFORMANCE.compiled(url), example)]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(CONFORMANCE)


@pytest.mark.parametrize("url", PROFILES, ids=lambda u: u.rsplit("/", 1)[-1])
def test_every_profile_has_an_example(url):
    assert _examples_of(url), f"no example in profiles/ claims {url}"


@pytest.mark.parametrize(("name", "resource"), EXAMPLES, ids=[n for n, _r in EXAMPLES])
def test_example_validates_clean(validator, name, resource):
    errors = [(i.code, i.expression, i.diagnostics) for i in validator.validate(copy.deepcopy(resource))
              if i.is_error]
    assert errors == []


@pytest.mark.parametrize(("profile", "mutation"), MUTATIONS,
                         ids=[f"{p}-{m.kind}-{m.what}" for p, m in MUTATIONS])
def test_broken_example_fails_with_the_expected_issue(validator, profile, mutation):
    issues = validator.validate(mutation.broken)
    found = [(i.code, i.expression) for i in issues if i.is_error]
    assert (mutation.code, (mutation.expression,)) in found, found


def test_every_kind_of_constraint_is_exercised():
    if not PROFILES:
        pytest.skip("profiles/ holds no Jiayi profile yet")
    kinds = {m.kind for _p, m in MUTATIONS}
    assert {"cardinality", "slice", "binding", "reference", "extension"} <= kinds, kinds


def _patient_with_id_card() -> tuple[dict, int]:
    for resource in _examples_of(SD + "jiayi-patient"):
        for i, identifier in enumerate(resource.get("identifier") or []):
            if identifier.get("system") == ID_CARD and len(identifier.get("value", "")) == 18:
                return copy.deepcopy(resource), i
    pytest.skip("no jiayi-patient example with an 18-character 居民身份证号 in profiles/")


def test_id_card_check_digit_is_an_invariant_of_jiayi_patient(validator):
    patient, i = _patient_with_id_card()
    number = patient["identifier"][i]["value"]
    patient["identifier"][i]["value"] = number[:17] + ("0" if number[17] != "0" else "1")
    found = [(x.code, x.expression) for x in validator.validate(patient) if x.is_error]
    assert ("invariant", (f"Patient.identifier[{i}].value",)) in found, found


def test_legacy_15_digit_id_card_is_accepted(validator):
    patient, i = _patient_with_id_card()
    number = patient["identifier"][i]["value"]
    patient["identifier"][i]["value"] = number[:6] + number[8:17]  # the 15-digit form: 2-digit year, no check digit
    assert [(x.code, x.expression) for x in validator.validate(patient) if x.is_error] == []
