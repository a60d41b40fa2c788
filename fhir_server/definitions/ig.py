"""The Jiayi implementation guide as data: profiles/ and mappings/ (SPEC §3), loaded once.

Where it comes from: a source checkout has ``profiles/`` and ``mappings/`` at the repository
root (the truth, written by ``scripts/build_ig.py`` and by the adapters' authors); an
installed package has ``data/ig.json``, the same resources in one Bundle that the build
script regenerates (a test keeps it in step).  The checkout wins when present, so a
ConceptMap added under ``mappings/`` is served without rebuilding the bundle.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
IG_URL = "https://jiayi.dev/fhir/ImplementationGuide/jiayi"
CONFORMANCE_TYPES = ("ImplementationGuide", "StructureDefinition", "CodeSystem", "ValueSet", "NamingSystem",
                     "SearchParameter", "OperationDefinition", "ConceptMap", "Questionnaire", "Measure")


def bundle_of(resources: list[dict]) -> dict:
    """A collection Bundle of the IG's resources (the packaged form)."""
    return {"resourceType": "Bundle", "id": "jiayi-ig", "type": "collection",
            "entry": [{"fullUrl": f"https://jiayi.dev/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}


def concept_maps_in(data: object) -> list[dict]:
    """The ConceptMaps in one JSON file of mappings/ (a ConceptMap, or a Bundle of them); other
    JSON there (an adapter's field tables) is not FHIR and is left alone."""
    if not isinstance(data, dict):
        return []
    if data.get("resourceType") == "ConceptMap":
        return [data]
    if data.get("resourceType") == "Bundle":
        return [e["resource"] for e in data.get("entry", []) if isinstance(e, dict)
                and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "ConceptMap"]
    return []


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _from_checkout() -> list[dict] | None:
    profiles, mappings = ROOT / "profiles", ROOT / "mappings"
    if not (profiles / "ImplementationGuide-jiayi.json").exists():
        return None
    found = [_read(p) for p in sorted(profiles.rglob("*.json"))  # tests/: the conformance kit's TestScripts
             if not {"src", "tests"} & set(p.relative_to(profiles).parts)]
    for path in sorted(mappings.rglob("*.json")):
        found += concept_maps_in(_read(path))
    return [r for r in found if isinstance(r, dict)]


@cache
def resources() -> tuple[dict, ...]:
    """Every resource of the IG: conformance resources, ConceptMaps and examples."""
    found = _from_checkout()
    if found is None:
        found = [e["resource"] for e in json.loads((DATA / "ig.json").read_text(encoding="utf-8"))["entry"]]
    return tuple(r for r in found if isinstance(r, dict) and "resourceType" in r and "id" in r)


def conformance() -> tuple[dict, ...]:
    """The resources the server loads and serves (examples are not data of the server)."""
    return tuple(r for r in resources() if r["resourceType"] in CONFORMANCE_TYPES)


def examples() -> tuple[dict, ...]:
    return tuple(r for r in resources() if r["resourceType"] not in CONFORMANCE_TYPES)


@cache
def fingerprint() -> str:
    """A digest of the conformance resources: the server reloads the IG when it changes."""
    text = json.dumps(conformance(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@cache
def profiles_by_type() -> dict[str, list[str]]:
    """Resource type → the Jiayi profile URLs on it (for CapabilityStatement.rest.resource.supportedProfile)."""
    out: dict[str, list[str]] = {}
    for r in conformance():
        if r["resourceType"] == "StructureDefinition" and r.get("kind") == "resource" \
                and r.get("derivation") == "constraint":
            out.setdefault(r["type"], []).append(r["url"])
    return {k: sorted(v) for k, v in out.items()}


@cache
def identifier_aliases() -> dict[str, tuple[str, ...]]:
    """Identifier system URI → every URI of its NamingSystem (itself first), from the IG's NamingSystems."""
    out: dict[str, tuple[str, ...]] = {}
    for r in conformance():
        if r["resourceType"] != "NamingSystem" or r.get("kind") != "identifier":
            continue
        uris = [u["value"] for u in r.get("uniqueId", []) if u.get("type") == "uri" and u.get("value")]
        for uri in uris:
            out[uri] = (uri, *(u for u in uris if u != uri))
    return out
