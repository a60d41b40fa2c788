"""SMART scope parsing: v1 and v2 syntax, wildcards, restrictions, and what is ignored."""

from __future__ import annotations

import pytest

from fhir_server.auth.access import grant
from fhir_server.auth.principal import Principal, local_reference
from fhir_server.auth.scopes import parse_scope, parse_scopes


@pytest.mark.parametrize(("text", "letters"), [
    ("patient/Observation.read", "rs"), ("patient/Observation.write", "cud"), ("user/*.*", "cruds"),
    ("system/Patient.rs", "rs"), ("user/Encounter.cruds", "cruds"), ("patient/*.c", "c"), ("user/Task.sd", "sd"),
])
def test_v1_and_v2_permissions(text, letters):
    assert parse_scope(text).permissions == frozenset(letters)


@pytest.mark.parametrize("text", ["openid", "fhirUser", "launch/patient", "offline_access", "user/Patient.xyz",
                                  "user/Patient.rr", "admin/*.read", "patient/.read", "user/Patient"])
def test_scopes_that_are_not_resource_scopes_are_left_out(text):
    assert parse_scope(text) is None


def test_wildcards_and_types():
    scope = parse_scope("user/*.rs")
    assert scope.permits("Observation", "r") and scope.permits("Patient", "s") and not scope.permits("Patient", "c")
    assert not parse_scope("user/Observation.rs").permits("Patient", "r")


def test_v2_restrictions_are_search_parameters():
    category = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
    scope = parse_scope(f"patient/Observation.rs?category={category}")
    assert scope.restrictions == (("category", category),)


def test_a_claim_may_be_a_list_and_junk_is_ignored():
    assert len(parse_scopes(["openid", "user/*.rs", "bad"])) == 1
    assert len(parse_scopes("openid fhirUser user/*.rs patient/Observation.read")) == 2


def test_grants_by_context():
    doctor = Principal("d", parse_scopes("user/*.cruds"), fhir_user="Practitioner/7", region="org-1")
    resident = Principal("r", parse_scopes("patient/*.rs"), fhir_user="Patient/42")
    machine = Principal("m", parse_scopes("system/*.rs"))
    assert grant(doctor, "Patient", "r").reach.practitioner == "7"
    assert grant(resident, "Observation", "s").reach.patients == ("42",)
    assert grant(resident, "Observation", "c") is None
    assert grant(machine, "Observation", "r").reach is None and grant(machine, "Patient", "d") is None


def test_restricted_scopes_combine_as_any():
    principal = Principal("r", parse_scopes("patient/Observation.rs?category=vital-signs "
                                            "patient/Observation.rs?category=laboratory"), patient="42")
    assert len(grant(principal, "Observation", "s").restrictions) == 2
    wider = Principal("r", parse_scopes("patient/Observation.rs?category=vital-signs patient/*.rs"), patient="42")
    assert grant(wider, "Observation", "s").restrictions == ()


def test_fhir_user_may_be_absolute():
    assert local_reference("https://x.test/fhir/Practitioner/7") == "Practitioner/7"
    assert local_reference("Patient/1/_history/2") == "Patient/1"
