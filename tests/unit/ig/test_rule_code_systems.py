"""Every code the server writes in ``meta.tag`` derived-by, and every rule it names in an
OperationOutcome (issue.details.coding business-rule), is defined in the IG's code systems, so
a receiving system can look it up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import fhir_server

SOURCE = Path(fhir_server.__file__).parent
PROFILES = Path(__file__).resolve().parents[3] / "profiles"

# how the code names them: write_derived(..., because="x"), add_output(..., "x"), a default because
DERIVED = [re.compile(r'because(?::\s*str)?\s*=\s*"([a-z-]+)"'),
           re.compile(r'add_output\([^)]*?,\s*"([a-z-]+)"\)', re.S)]
# refuse("jiayi-…"), Violation("jiayi-…"), _refuse("jiayi-…")
RULES = [re.compile(r'(?:refuse|Violation)\(\s*"(jiayi-[a-z0-9-]+)"')]


def _codes(code_system: str) -> set[str]:
    resource = json.loads((PROFILES / f"CodeSystem-{code_system}.json").read_text(encoding="utf-8"))
    return {c["code"] for c in resource["concept"]}


def _used(patterns: list[re.Pattern]) -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCE.rglob("*.py"))
    return {m for pattern in patterns for m in pattern.findall(text)}


def test_every_derived_by_code_the_server_writes_is_defined():
    used = _used(DERIVED)
    assert {"record-service", "follow-up-proposal", "appointment-output"} <= used  # the scan finds them
    assert used == _codes("derived-by"), used ^ _codes("derived-by")


def test_every_business_rule_the_server_names_is_defined():
    used = _used(RULES)
    assert {"jiayi-contract-one-in-force", "jiayi-two-card-item", "jiayi-contract-renew"} <= used
    assert used == _codes("business-rule"), used ^ _codes("business-rule")
