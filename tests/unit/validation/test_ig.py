"""The IG in profiles/ (SPEC §3): every example instance validates clean, and for every Jiayi
profile, each kind of constraint it places (cardinality, fixed/pattern, slices, required
bindings, reference targets, extensions) fails with the expected issue when broken
(tests/ig_mutations.py derives the broken instances from the profile's snapshot).  Plus the
身份证 rules of jiayi-patient: the GB 11643 check digit, and 15-digit legacy numbers accepted."""

from __future__ import annotations

import copy

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
        except Exception:  # noqa: BLE001, S112 - not JSON: not part of the IG
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
    assert {("invariant", (f"Patient.identifier[{i}]",)), ("invariant", (f"Patient.identifier[{i}].value",))} & \
        set(found), found


def test_legacy_15_digit_id_card_is_accepted(validator):
    patient, i = _patient_with_id_card()
    number = patient["identifier"][i]["value"]
    patient["identifier"][i]["value"] = number[:6] + number[8:17]  # the 15-digit form: 2-digit year, no check digit
    assert [(x.code, x.expression) for x in validator.validate(patient) if x.is_error] == []


# -- the invariants the IG defines: one breaking edit each (resource → None), and where it is reported
def _set_lead(value: bool):
    def edit(team: dict) -> None:
        for p in team.get("participant") or []:
            for e in p.get("extension") or []:
                if e.get("url") == SD + "jiayi-team-lead":
                    e["valueBoolean"] = value
    return edit


def _lead_role_nurse(team: dict) -> None:
    for p in team.get("participant") or []:
        if any(e.get("url") == SD + "jiayi-team-lead" and e.get("valueBoolean") for e in p.get("extension") or []):
            for c in (r for role in p.get("role") or [] for r in role.get("coding") or []):
                c["code"] = "nurse"


def _no_head(group: dict) -> None:
    for m in group.get("member") or []:
        m["extension"] = [e for e in m.get("extension") or [] if e.get("url") != SD + "jiayi-household-head"] or None
        if m["extension"] is None:
            del m["extension"]


def _same_levels(contract: dict) -> None:
    hospitals = [e for e in contract.get("extension") or [] if e.get("url") == SD + "jiayi-combination-hospital"]
    if not hospitals:
        pytest.skip("the jiayi-contract example has no 1+1+1 hospital")
    contract["extension"].append(copy.deepcopy(hospitals[0]))


def _one_card(provenance: dict) -> None:
    seen = False
    for agent in provenance.get("agent") or []:
        cards = [e for e in agent.get("extension") or [] if e.get("url") == SD + "jiayi-card"]
        if cards and seen:
            agent["extension"] = [e for e in agent["extension"] if e not in cards] or None
            if agent["extension"] is None:
                del agent["extension"]
        seen = seen or bool(cards)


def _record_16_digits(patient: dict) -> str:
    for i, identifier in enumerate(patient.get("identifier") or []):
        if identifier.get("system") == "urn:oid:2.16.156.10011.1.2":
            identifier["value"] = identifier["value"][:16]
            return f"Patient.identifier[{i}]"
    pytest.skip("no 健康档案编号 in the jiayi-patient example")


def _terminated(contract: dict) -> None:
    contract["status"] = "terminated"
    contract.pop("expirationType", None)


def _applies_backwards(contract: dict) -> None:
    contract["status"] = "executed"
    contract["applies"] = {"start": "2025-01-01", "end": "2024-01-01"}


def _long_supply(request: dict) -> None:
    request["dispenseRequest"]["expectedSupplyDuration"] = {
        "value": 120, "unit": "天", "system": "http://unitsofmeasure.org", "code": "d"}


def _referral_without_receiver(referral: dict) -> None:
    referral["status"] = "active"
    referral.pop("performer", None)


def _proposal_in_progress(task: dict) -> None:
    task["intent"] = "proposal"
    task["status"] = "in-progress"


INVARIANTS = {  # key → (profile, edit, location; an edit may return the location)
    "jiayi-ref-1": ("jiayi-referral", _referral_without_receiver, "ServiceRequest"),
    "jiayi-rtk-1": ("jiayi-referral-task", _proposal_in_progress, "Task"),
    "jiayi-ctr-1": ("jiayi-contract", _applies_backwards, "Contract"),
    "jiayi-ctr-2": ("jiayi-contract", _terminated, "Contract"),
    "jiayi-ctr-3": ("jiayi-contract", _same_levels, "Contract"),
    "jiayi-team-1": ("jiayi-family-doctor-team", _set_lead(False), "CareTeam"),
    "jiayi-team-2": ("jiayi-family-doctor-team", _lead_role_nurse, "CareTeam"),
    "jiayi-hh-1": ("jiayi-household", _no_head, "Group"),
    "jiayi-ltp-1": ("jiayi-long-term-prescription", _long_supply,
                    "MedicationRequest.dispenseRequest.expectedSupplyDuration"),
    "jiayi-pat-2": ("jiayi-patient", _record_16_digits, None),
    "jiayi-prov-1": ("jiayi-two-card-provenance", _one_card, "Provenance"),
}


def _ig_invariant_keys() -> set[str]:
    keys = set()
    for url in PROFILES:
        for element in CONFORMANCE.structure(url)["snapshot"]["element"]:
            keys |= {c["key"] for c in element.get("constraint", ()) if c.get("source", "").startswith(SD)}
    return keys


def test_every_ig_invariant_has_a_breaking_case():
    keys = _ig_invariant_keys()
    if not keys:
        pytest.skip("profiles/ defines no invariant yet")
    assert keys - set(INVARIANTS) <= {"jiayi-pat-1"}  # jiayi-pat-1: the 身份证 tests above


@pytest.mark.parametrize("key", sorted(INVARIANTS))
def test_ig_invariant_fails_when_broken(validator, key):
    profile, edit, where = INVARIANTS[key]
    examples = _examples_of(SD + profile)
    if key not in _ig_invariant_keys() or not examples:
        pytest.skip(f"{key} or an example of {profile} is not in profiles/")
    resource = copy.deepcopy(examples[0])
    where = edit(resource) or where
    issues = validator.validate(resource)
    found = [(i.code, i.expression) for i in issues if i.is_error and key in i.diagnostics]
    assert ("invariant", (where,)) in found, [(i.code, i.expression, i.diagnostics[:80]) for i in issues]
