"""The validator's verdicts on a fixed corpus (tests/verdicts_support.py: the IG's examples, their
broken copies, a demo district, random edits) are the ones recorded before its walks were
compiled (issue 19): every issue, with its severity, code, location and message.  A deliberate
change of a verdict is recorded again with ``python tests/verdicts_support.py``."""

from __future__ import annotations

import pytest
from verdicts_support import corpus, load_golden, verdict

from fhir_server.validation import Validator
from fhir_server.validation.ig import conformance

GOLDEN = load_golden()
CASES = list(corpus())


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(conformance())


def test_the_corpus_is_the_recorded_one():
    names = [name for name, _r in CASES]
    assert len(set(names)) == len(names)
    assert sorted(names) == sorted(GOLDEN)


@pytest.mark.parametrize(("name", "resource"), CASES, ids=[name for name, _r in CASES])
def test_verdict_is_the_recorded_one(validator, name, resource):
    assert verdict(validator, resource) == GOLDEN[name]
