"""Shared fixtures: one 300-resident demo district and the official R4 JSON Schema."""

import json
from pathlib import Path

import jsonschema
import pytest

from fhir_server.demo import generate_district

SCHEMA_PATH = Path(__file__).parents[3] / "fhir_server" / "definitions" / "data" / "fhir.schema.json"


@pytest.fixture(scope="session")
def district():
    return generate_district(seed=7, residents=300)


@pytest.fixture(scope="session")
def resources(district):
    return list(district.resources())


@pytest.fixture(scope="session")
def by_type(resources):
    out: dict[str, list[dict]] = {}
    for r in resources:
        out.setdefault(r["resourceType"], []).append(r)
    return out


@pytest.fixture(scope="session")
def validator_for():
    """A compiled Draft 6 validator per resource type, checking ``#/definitions/<Type>``."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    root = {k: v for k, v in schema.items() if k not in ("oneOf", "discriminator")}
    cache: dict[str, jsonschema.Draft6Validator] = {}

    def get(resource_type: str) -> jsonschema.Draft6Validator:
        if resource_type not in cache:
            cache[resource_type] = jsonschema.Draft6Validator({**root, "$ref": f"#/definitions/{resource_type}"})
        return cache[resource_type]

    return get
