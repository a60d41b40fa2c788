"""Database errors told apart (fhir_server.storage.faults): what the client is told for each."""

from __future__ import annotations

import pytest

from fhir_server.storage import faults


@pytest.mark.parametrize("message, kind", [
    ("database or disk is full", faults.UNAVAILABLE),
    ("attempt to write a readonly database", faults.UNAVAILABLE),
    ("cannot execute INSERT in a read-only transaction", faults.UNAVAILABLE),
    ("could not extend file \"base/16384/2619\": No space left on device", faults.UNAVAILABLE),
    ("interrupted", faults.OVER_BUDGET),
    ("canceling statement due to statement timeout", faults.OVER_BUDGET),
    ("database is locked", faults.BUSY),
    ("deadlock detected", faults.BUSY),
    ("syntax error at or near", None),
])
def test_classify(message, kind):
    assert faults.classify(Exception(message)) == kind
