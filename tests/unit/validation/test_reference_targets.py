"""Reference target types (FHIR R4 references.html): the type each form of reference names, and
the types an element allows (R4's targetProfiles plus the Jiayi IG's), with a reference of an
allowed and of a refused type.  Written from the mutation run of validation/references.py
(docs/testing.md)."""

from __future__ import annotations

import pytest

from fhir_server.definitions.structures import structures
from fhir_server.validation import validate_resource
from fhir_server.validation.references import allowed_targets, reference_type


@pytest.mark.parametrize(("reference", "expected"), [
    ({"reference": "Patient/1"}, "Patient"),
    ({"reference": "Patient/a-b.c"}, "Patient"),
    ({"reference": "Patient/1/_history/2"}, "Patient"),
    ({"reference": "http://x.org/fhir/Patient/1"}, "Patient"),
    ({"reference": "http://x.org/fhir/Patient/1/_history/2"}, "Patient"),
    ({"reference": "Patient/" + "1" * 64}, "Patient"),
    ({"reference": "Patient/" + "1" * 65}, None),  # an id is at most 64 characters
    ({"reference": "Patient/1/_history/" + "1" * 65}, None),
    ({"reference": "Patient?identifier=urn:id|1"}, "Patient"),  # conditional, in a transaction
    ({"reference": "Patientt?identifier=urn:id|1"}, None),
    ({"reference": "Patientt?identifier=urn:id|1", "type": "Patient"}, None),
    ({"reference": "Foo/1"}, None),  # not a resource type
    ({"reference": "Foo/1", "type": "Group"}, "Group"),
    ({"reference": "patient/1"}, None),
    ({"reference": "#p1"}, None),
    ({"reference": "#p1", "type": "Practitioner"}, "Practitioner"),
    ({"reference": "urn:uuid:5b1e6d5a-1c5f-4b6e-9d4e-0f0a1b2c3d4e"}, None),
    ({"reference": "urn:x/Patient/1"}, None),  # a urn says nothing, whatever it spells
    ({"reference": "#x/Patient/1"}, None),  # nor does a local reference
    ({"reference": "urn:uuid:5b1e6d5a-1c5f-4b6e-9d4e-0f0a1b2c3d4e", "type": "Patient"}, "Patient"),
    ({"reference": "Patient/1", "type": "Group"}, "Patient"),  # the reference itself wins
    ({"reference": 7, "type": "Group"}, "Group"),
    ({"identifier": {"value": "1"}, "type": "Organization"}, "Organization"),
    ({"identifier": {"value": "1"}}, None),
    ({"type": "NotAType"}, None),
    ({"type": 5}, None),
    ({"display": "张三"}, None),
])
def test_reference_type(reference, expected):
    assert reference_type(reference) == expected


def test_allowed_targets_are_r4s_plus_the_igs():
    based_on = structures().children("ServiceRequest")["basedOn"]
    assert allowed_targets(based_on) == {"CarePlan", "ServiceRequest", "MedicationRequest", "Contract"}
    subject = structures().children("Observation")["subject"]
    assert allowed_targets(subject) == frozenset(subject.targets)
    assert "Patient" in allowed_targets(subject) and "Contract" not in allowed_targets(subject)


def _referral(based_on: dict) -> dict:
    return {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "subject": {"reference": "Patient/1"}, "basedOn": [based_on]}


@pytest.mark.parametrize(("based_on", "ok"), [
    ({"reference": "Contract/c1"}, True),  # the IG's addition
    ({"reference": "CarePlan/p1"}, True),  # R4's own
    ({"reference": "Patient/1"}, False),
    ({"reference": "http://x.org/fhir/Patient/1"}, False),
    ({"reference": "urn:uuid:5b1e6d5a-1c5f-4b6e-9d4e-0f0a1b2c3d4e"}, True),  # says nothing
    ({"identifier": {"value": "1"}, "type": "Observation"}, False),
])
def test_a_reference_of_a_type_the_element_does_not_allow_is_an_error(based_on, ok):
    errors = [i for i in validate_resource(_referral(based_on)) if i.is_error]
    if ok:
        assert errors == []
    else:
        (issue,) = errors
        stated = reference_type(based_on)
        assert (issue.code, issue.expression) == ("invalid", ("ServiceRequest.basedOn[0]",))
        assert issue.diagnostics == (f"A reference to a {stated} is not allowed here: ServiceRequest.basedOn refers "
                                     "to CarePlan, Contract, MedicationRequest, ServiceRequest")


def test_an_element_that_allows_any_resource_takes_any_type():
    provenance = {"resourceType": "Provenance", "target": [{"reference": "Patient/1"}],
                  "recorded": "2024-01-01T00:00:00Z", "agent": [{"who": {"reference": "Practitioner/1"}}],
                  "entity": [{"role": "source", "what": {"reference": "Contract/c1"}}]}
    assert [i for i in validate_resource(provenance) if i.is_error] == []
