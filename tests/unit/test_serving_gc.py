"""A serving worker's garbage collector: what it built at start is frozen, and full collections
are looked at every :data:`FULL_COLLECTION_EVERY` middle ones (docs/decisions.md)."""

from __future__ import annotations

import subprocess
import sys


def test_a_worker_freezes_its_start_up_objects_and_looks_at_full_collections_less_often():
    script = ("import gc; from fhir_server.serving import freeze_startup_objects, FULL_COLLECTION_EVERY; "
              "before = gc.get_threshold(); freeze_startup_objects(); after = gc.get_threshold(); "
              "print(gc.get_freeze_count() > 0, before[:2] == after[:2], "
              "after[2] == FULL_COLLECTION_EVERY > before[2])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True"]
