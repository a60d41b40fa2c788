"""The v2 → FHIR code translations, read from the ConceptMaps in ``mappings/hl7v2/``.

The adapter translates with the same ConceptMaps the server serves for ``$translate``,
so what a reviewer reads there is what the adapter does.  Codes are matched exactly
first, then case-insensitively (senders write ``f`` for ``F``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from ..data_files import mappings_dir

MAPPINGS = mappings_dir("hl7v2")
CONCEPTMAP_BASE = "https://jiayi.dev/fhir/ConceptMap/hl7v2-"


@dataclass(frozen=True)
class Target:
    system: str
    code: str
    display: str | None
    equivalence: str
    source_system: str  # the v2 table (or local system) the code came from


class Table:
    def __init__(self, concept_map: dict) -> None:
        self.url = concept_map["url"]
        self._exact: dict[str, Target] = {}
        self._folded: dict[str, Target] = {}
        self._reverse: dict[str, tuple[str, str]] = {}
        self._by_source: dict[tuple[str, str], Target] = {}
        for group in concept_map.get("group", []):
            for element in group.get("element", []):
                for target in element.get("target", []):
                    if target.get("equivalence") in ("unmatched", "disjoint"):
                        continue
                    t = Target(group["target"], target["code"], target.get("display"), target["equivalence"],
                               group["source"])
                    self._exact.setdefault(element["code"], t)
                    self._by_source.setdefault((group["source"], element["code"]), t)
                    self._folded.setdefault(element["code"].upper(), t)
                    if target["equivalence"] == "equivalent":
                        self._reverse.setdefault(target["code"], (group["source"], element["code"]))

    def get(self, code: str | None) -> Target | None:
        if not code:
            return None
        return self._exact.get(code) or self._folded.get(code.strip().upper())

    def get_from(self, system: str | None, code: str | None) -> Target | None:
        """The target of ``code`` in the group of source ``system`` only (for sender-local code systems)."""
        return self._by_source.get((system or "", code or ""))

    def code(self, code: str | None, default: str | None = None) -> str | None:
        target = self.get(code)
        return target.code if target else default

    def reverse(self, fhir_code: str | None) -> tuple[str, str] | None:
        """FHIR code → (v2 system, v2 code) over the equivalent pairs (for outbound messages)."""
        return self._reverse.get(fhir_code or "")


@cache
def table(name: str) -> Table:
    path = MAPPINGS / f"ConceptMap-hl7v2-{name}.json"
    return Table(json.loads(path.read_text(encoding="utf-8")))


def all_tables() -> dict[str, Table]:
    return {p.stem.removeprefix("ConceptMap-hl7v2-"): table(p.stem.removeprefix("ConceptMap-hl7v2-"))
            for p in sorted(MAPPINGS.glob("ConceptMap-hl7v2-*.json"))}
