"""JSON → XML → JSON gives back every official R4 resource exactly (FHIR R4 §2.6 xml.html).

Covers the 892 examples and every resource in the definition Bundles (~4,100 resources):
all resource types, primitive extensions, nulls in primitive arrays, narratives, contained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_server.formats import xhtml
from fhir_server.formats.xml import resource_to_xml, xml_to_resource
from fhir_server.formats.xml_safety import parser

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "fhir-r4"
BUNDLES = ("profiles-resources", "profiles-types", "valuesets", "conceptmaps", "search-parameters",
           "extension-definitions")


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"official R4 files not found at {path.resolve()} (they live in ../shared beside the repo)")
    return path


@pytest.fixture(scope="module")
def examples() -> list[tuple[str, dict]]:
    folder = _shared("examples")
    return [(f.name, json.loads(f.read_text(encoding="utf-8"))) for f in sorted(folder.glob("*.json"))]


@pytest.fixture(scope="module")
def bundled() -> list[tuple[str, dict]]:
    found = []
    for name in BUNDLES:
        bundle = json.loads(_shared(f"{name}.json").read_text(encoding="utf-8"))
        found += [(f"{name}.json#{i}", e["resource"]) for i, e in enumerate(bundle["entry"])]
    return found


def _failures(resources: list[tuple[str, dict]], pretty: bool = False) -> list[str]:
    failed = []
    for name, resource in resources:
        try:
            back = xml_to_resource(resource_to_xml(resource, pretty=pretty))
        except Exception as exc:  # noqa: BLE001 - report every failure at once, not just the first
            failed.append(f"{name}: {exc!r}"[:300])
            continue
        if back != resource:
            failed.append(f"{name}: differs after the round trip")
    return failed


def test_every_official_example_round_trips(examples):
    assert len(examples) >= 892
    assert _failures(examples) == []


def test_every_resource_in_the_definition_bundles_round_trips(bundled):
    assert len(bundled) > 3000
    assert _failures(bundled) == []


def test_pretty_printing_changes_nothing_but_whitespace(examples):
    assert _failures(examples[::7], pretty=True) == []


def test_the_fallback_narrative_serializer_is_stable_on_official_narratives(examples):
    """When a div cannot be cut from the source it is re-serialized; doing so twice changes nothing."""
    divs = [r["text"]["div"] for _, r in examples if "div" in r.get("text", {})]
    assert len(divs) > 800
    for div in divs:
        once = xhtml.canonical(xhtml.parse_div(div, parser()))
        assert xhtml.canonical(xhtml.parse_div(once, parser())) == once
