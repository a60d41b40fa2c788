"""The conformance resources the server validates with: the Jiayi IG
(:mod:`fhir_server.definitions.ig`: ``profiles/`` in a checkout, the packaged bundle in an
install) plus an optional directory of extra profiles (setting ``profiles_dir``, env
``JIAYI_PROFILES_DIR``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fhir_server.definitions import ig
from fhir_server.validation.conformance import Conformance

IG_DIRECTORY = ig.ROOT / "profiles"


@cache
def conformance(extra: str | None = None) -> Conformance:
    """Loaded once per process (and per extra directory): profiles are compiled lazily and cached."""
    resources = list(ig.resources())
    if extra:
        resources += Conformance.from_directory(Path(extra)).resources
    return Conformance(resources)


def examples() -> tuple[dict, ...]:
    """The IG's example instances."""
    return ig.examples()
