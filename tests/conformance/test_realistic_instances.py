"""Every R4 resource type has a realistic instance, and it validates (FHIR R4 §2 baseline)."""

from __future__ import annotations

import pytest

from conformance.realistic_instances import EXAMPLES, INSTANCES, instance_sources, origin, realistic_instances
from fhir_server.definitions.structures import structures
from fhir_server.validation import validate_resource

needs_shared = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"official examples not found at {EXAMPLES}")


@needs_shared
def test_every_r4_resource_type_has_an_instance():
    missing = [t for t in structures().resource_types if t not in instance_sources()]
    written = sorted(t for t in instance_sources() if origin(t).startswith("written:"))
    print(f"{len(instance_sources())} types; written by hand: {written}")
    assert missing == []
    assert len(written) == 8  # 6 types without an official example, 2 whose example breaks R4 (NOT_VALID)


def test_written_instances_are_valid_and_named_by_type():
    for path in sorted(INSTANCES.glob("*.json")):
        resource_type = path.name.split("-", 1)[0]
        instance = realistic_instances()[resource_type]
        assert instance["resourceType"] == resource_type
        assert validate_resource(instance, expected_type=resource_type) == [], path.name


@needs_shared
def test_every_instance_validates():
    failures = {}
    for resource_type, instance in realistic_instances().items():
        errors = [i for i in validate_resource(instance, expected_type=resource_type) if i.is_error]
        if errors:
            failures[origin(resource_type)] = [(i.expression, i.diagnostics) for i in errors]
    assert failures == {}
