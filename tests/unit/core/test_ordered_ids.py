"""Time-ordered ids (core.clock.ordered_ids): valid UUIDs of version 7 that sort by creation time."""

from __future__ import annotations

import re
import time
import uuid

from fhir_server.core.clock import ordered_ids

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def test_ordered_ids_are_version_7_uuids_and_fhir_ids():
    made = {ordered_ids() for _ in range(1000)}
    assert len(made) == 1000
    for value in made:
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
        assert FHIR_ID.match(value)


def test_ids_made_a_millisecond_apart_sort_in_order():
    first = ordered_ids()
    time.sleep(0.002)
    assert first < ordered_ids()
    stamp = int(first.replace("-", "")[:12], 16)  # the Unix time in milliseconds
    assert abs(stamp - time.time() * 1000) < 60_000
