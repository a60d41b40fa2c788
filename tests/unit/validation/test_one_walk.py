"""The structure walk that also checks the base invariants (``resource.validate_with_invariants``,
issue 19) gives what the two walks give on their own: the same structure issues, and the base
invariant issues in the order of the invariant walk, also where the structure walk does not enter
an object (a nested resource, an object or an array where the R4 element tree says otherwise)."""

from __future__ import annotations

import copy
import random

import pytest
from verdicts_support import corpus

from fhir_server.validation.base_invariants import base_invariant_issues
from fhir_server.validation.core_extensions import extension_holders
from fhir_server.validation.resource import validate_resource, validate_with_invariants

ODD_VALUES: tuple[object, ...] = (
    {"id": "x"}, [{"id": "x"}], {"extension": [{"url": "http://x"}]}, [{"reference": "#nope"}], {}, [{}],
    {"start": "2020", "end": "2019"}, [[{"id": "y"}]], {"resourceType": "Patient", "name": [{"id": "z"}]},
)


def _spots(node: object) -> list[tuple[dict | list, object]]:
    out: list[tuple[dict | list, object]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "resourceType":
                out += [(node, key), *_spots(value)]
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += [(node, i), *_spots(value)]
    return out


def _odd(resource: dict, rng: random.Random) -> dict:
    """``resource`` with three of its values replaced by objects of unexpected shapes."""
    out = copy.deepcopy(resource)
    spots = _spots(out)
    for _ in range(3 if spots else 0):
        parent, key = rng.choice(spots)
        parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))  # type: ignore[index]
    return out


CASES = list(corpus())


@pytest.mark.parametrize(("name", "resource"), CASES, ids=[name for name, _r in CASES])
def test_one_walk_gives_what_two_walks_give(name, resource):
    rng = random.Random(name)
    for variant in (resource, _odd(resource, rng), _odd(resource, rng)):
        structure, invariants = validate_with_invariants(variant)
        assert structure == validate_resource(variant)
        if invariants is not None:
            assert invariants == base_invariant_issues(variant, variant["resourceType"])


def test_the_invariants_are_left_to_the_caller_when_the_walk_did_not_run():
    assert validate_with_invariants({"resourceType": "Nothing"})[1] is None
    assert validate_with_invariants("Patient")[1] is None


@pytest.mark.parametrize(("name", "resource"), CASES, ids=[name for name, _r in CASES])
def test_the_one_walk_marks_where_extensions_are_as_the_pass_does(name, resource):
    rng = random.Random(name + "/holders")
    for variant in (resource, _odd(resource, rng), _odd(resource, rng)):
        holders: set[int] = set()
        if validate_with_invariants(variant, None, holders)[1] is not None:
            assert holders == extension_holders(variant)


EXTENDED = {"extension": [{"url": "http://x", "valueString": "y"}]}


@pytest.mark.parametrize("patient", [
    {"resourceType": "Patient", "name": [{"given": ["a", EXTENDED]}]},  # an object where a primitive belongs
    {"resourceType": "Patient", "name": [{"given": [[EXTENDED]]}]},
    {"resourceType": "Patient", "birthDate": EXTENDED, "gender": [EXTENDED]},
    {"resourceType": "Patient", "name": EXTENDED, "maritalStatus": [EXTENDED]},  # array / single swapped
    {"resourceType": "Patient", "_gender": [[EXTENDED]], "_birthDate": EXTENDED, "unknown": [EXTENDED]},
    {"resourceType": "Patient", "contained": [{"resourceType": "Basic", "code": {"text": "x"}, **EXTENDED}]},
])
def test_the_one_walk_marks_extensions_in_objects_it_does_not_enter(patient):
    holders: set[int] = set()
    assert validate_with_invariants(patient, None, holders)[1] is not None
    assert holders == extension_holders(patient) and id(patient) in holders
