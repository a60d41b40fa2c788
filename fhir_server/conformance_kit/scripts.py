"""The IG's conformance TestScripts and their fixtures (profiles/tests/), as the kit reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from adapters.data_files import profiles_dir

SOURCE_EXTENSION = "https://jiayi.dev/fhir/StructureDefinition/jiayi-conformance-source"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def tests_dir() -> Path:
    return profiles_dir() / "tests"


def zh(element: dict | None) -> str | None:
    """The Chinese translation carried on a primitive's ``_element``."""
    for ext in (element or {}).get("extension", []):
        if ext.get("url") == TRANSLATION:
            parts = {p["url"]: p.get("valueCode") or p.get("valueString") for p in ext.get("extension", [])}
            if parts.get("lang", "").startswith("zh"):
                return parts.get("content")
    return None


@dataclass(frozen=True)
class Script:
    """One TestScript with what the kit needs to know about it."""

    resource: dict
    directory: Path

    @property
    def id(self) -> str:
        return self.resource["id"]

    def _context(self, code: str) -> str:
        return next((u["valueCodeableConcept"].get("text", "") for u in self.resource.get("useContext", [])
                     if u.get("code", {}).get("code") == code), "")

    @property
    def actor(self) -> str:
        return self._context("user")

    @property
    def capability(self) -> str:
        return self._context("focus") or next(
            (c.get("description", "") for c in self.resource.get("metadata", {}).get("capability", [])), "")

    @property
    def mandatory(self) -> bool:
        return any(c.get("required") for c in self.resource.get("metadata", {}).get("capability", []))

    def title(self, lang: str = "en") -> str:
        return (zh(self.resource.get("_title")) if lang == "zh" else None) or self.resource.get("title", self.id)

    @cached_property
    def profiles(self) -> dict[str, str]:
        """validateProfileId → the profile's canonical URL."""
        return {p["id"]: p["reference"] for p in self.resource.get("profile", [])}

    def fixture_text(self, fixture_id: str) -> str:
        """The fixture's JSON text (variables not yet substituted)."""
        fixture = next(f for f in self.resource.get("fixture", []) if f["id"] == fixture_id)
        reference = fixture["resource"]["reference"]
        base = profiles_dir() if reference.startswith("examples/") else self.directory
        return (base / reference).read_text(encoding="utf-8")


def test_info(test: dict, lang: str = "en") -> dict:
    """A TestScript.test's id, requirement (in ``lang`` when translated) and source passage."""
    source = next((e.get("valueString") for e in test.get("extension", []) if e.get("url") == SOURCE_EXTENSION), "")
    text = (zh(test.get("_description")) if lang == "zh" else None) or test.get("description", "")
    return {"id": test.get("id") or test.get("name", ""), "requirement": text, "source": source}


def load(directory: Path | None = None, suite: str | None = None, only: tuple[str, ...] = ()) -> list[Script]:
    """The TestScripts of ``suite`` (an actor: server, terminal, his, public-health), limited to the
    capability groups (or script ids) in ``only`` when given."""
    directory = directory or tests_dir()
    scripts = [Script(json.loads(p.read_text(encoding="utf-8")), directory)
               for p in sorted(directory.glob("TestScript-*.json"))]
    if suite:
        scripts = [s for s in scripts if s.actor == suite]
    if only:
        scripts = [s for s in scripts if s.capability in only or s.id in only]
    return scripts
