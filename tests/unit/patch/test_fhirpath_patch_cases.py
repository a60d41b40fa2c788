"""The official FHIRPath Patch test cases (FHIR/fhir-test-cases r4/patch/fhir-patch-tests.xml).

Converted to JSON under ``tests/data/fhirpath-patch/`` (see the README there).  Every case
is applied forwards: input + diff must give output, or raise for an ``error`` case.  The
cases' ``mode`` ("both" / "forwards") is about also *generating* the diff, which this
server does not do.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from fhir_server.core.errors import FHIRError
from fhir_server.patch import apply_fhirpath_patch

DATA = Path(__file__).resolve().parents[2] / "data" / "fhirpath-patch"
CASES = sorted(DATA.glob("[0-9][0-9]-*.json"))


def test_all_official_cases_are_present():
    assert len(CASES) == 33


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_official_case(path: Path):
    case = json.loads(path.read_text(encoding="utf-8"))
    original = copy.deepcopy(case["input"])
    if "error" in case:
        with pytest.raises(FHIRError) as caught:
            apply_fhirpath_patch(case["input"], case["diff"])
        assert case["error"] in str(caught.value)
    else:
        result = apply_fhirpath_patch(case["input"], case["diff"])
        assert result == case["output"]
    assert case["input"] == original, "the input resource must not be modified"
