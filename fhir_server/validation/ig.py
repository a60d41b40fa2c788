"""The conformance resources the server validates with: the Jiayi IG in ``profiles/`` plus an
optional directory of extra profiles (setting ``profiles_dir``, env ``JIAYI_PROFILES_DIR``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fhir_server.validation.conformance import Conformance

IG_DIRECTORY = Path(__file__).resolve().parent.parent.parent / "profiles"


@cache
def conformance(extra: str | None = None) -> Conformance:
    """Loaded once per process (and per extra directory): profiles are compiled lazily and cached."""
    directories = [IG_DIRECTORY] + ([Path(extra)] if extra else [])
    resources: list[dict] = []
    for directory in directories:
        resources += Conformance.from_directory(directory).resources
    return Conformance(resources)
