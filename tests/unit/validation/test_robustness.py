"""No input makes the validator raise: IG examples with values of the wrong JSON type in
random places are validated (base and profile passes) without an exception."""

from __future__ import annotations

import copy
import json
import random

import pytest

from fhir_server.validation import Validator, ig

WEIRD = [None, 1, 1.5, True, "", "x", [], {}, [None], [1], {"a": 1}, [{}], "#", {"reference": 5}, {"url": 3}]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _mutants(resource: dict, count: int, rng: random.Random):
    paths = list(_paths(resource))[1:]
    for _ in range(count):
        broken = copy.deepcopy(resource)
        for path in rng.sample(paths, min(3, len(paths))):
            node = broken
            try:
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = copy.deepcopy(rng.choice(WEIRD))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier edit replaced a parent
        yield json.loads(json.dumps(broken))


@pytest.mark.parametrize("example", ig.examples(), ids=lambda r: f"{r['resourceType']}-{r.get('id')}")
def test_wrong_json_types_never_raise(example):
    validator = Validator(ig.conformance(), strict=True)
    profile = ((example.get("meta") or {}).get("profile") or [None])[0]
    for broken in _mutants(example, 8, random.Random(example.get("id"))):
        validator.validate(broken)
        validator.write_issues(broken)
        if profile:
            validator.validate(broken, profile)
