"""At least one realistic instance of every R4 resource type (FHIR R4 §2: "any of those resource types").

Official examples (``shared/fhir-r4/examples/``, HL7's R4 4.0.1 example package) are used
for the 140 types that have one; the six types without an official example (Parameters and
the five Substance* definition resources), and the two whose only official example breaks R4
(``NOT_VALID``), have hand-written instances in ``instances/``.

Other tests import :func:`realistic_instances` (type → one instance) for round trips, as
``from conformance.realistic_instances import realistic_instances`` (``tests/`` is on
``sys.path`` because of ``tests/conftest.py``);
:func:`instance_sources` says where each one came from.  When ``shared/`` is absent only
the hand-written instances are available (callers should skip on missing types).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXAMPLES = SHARED / "fhir-r4" / "examples"
INSTANCES = Path(__file__).resolve().parent / "instances"


# official examples that break R4 (a reference to a type the element does not allow, see
# KNOWN_INVALID in test_official_resources): a written instance stands in for them
NOT_VALID = frozenset({"DeviceMetric-example.json", "DeviceUseStatement-example.json"})


def _type_of(path: Path) -> str:
    return path.name.split("-", 1)[0]


@cache
def instance_sources() -> dict[str, Path]:
    """Resource type → the file its instance comes from (official ``<Type>-example.json`` first)."""
    chosen: dict[str, Path] = {}
    official = [p for p in sorted(EXAMPLES.glob("*.json")) if p.name not in NOT_VALID] if EXAMPLES.is_dir() else []
    for path in official:
        if path.name == f"{_type_of(path)}-example.json":
            chosen[_type_of(path)] = path
    for path in official:
        chosen.setdefault(_type_of(path), path)
    for path in sorted(INSTANCES.glob("*.json")):
        chosen.setdefault(_type_of(path), path)
    return dict(sorted(chosen.items()))


def realistic_instances() -> dict[str, dict]:
    """Resource type → one realistic, valid R4 instance of it (a fresh copy on every call)."""
    return {t: json.loads(p.read_text(encoding="utf-8")) for t, p in instance_sources().items()}


def origin(resource_type: str) -> str:
    """``official:<file>`` or ``written:<file>``."""
    path = instance_sources()[resource_type]
    return ("written:" if path.parent == INSTANCES else "official:") + path.name


if __name__ == "__main__":
    for name in instance_sources():
        print(f"{name:40} {origin(name)}")
