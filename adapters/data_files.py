"""Where the adapters find their data files (``mappings/`` tables and ConceptMaps, ``profiles/``).

A source checkout has both at the repository root (SPEC §3, §5); a wheel carries them inside
this package (``adapters/mappings``, ``adapters/profiles``: see setup.py), so an installed
adapter reads the same tables.  Every run-time read of a data file goes through these
functions."""

from __future__ import annotations

import functools
import json
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_ROOT = _PACKAGE if (_PACKAGE / "mappings").is_dir() else _PACKAGE.parent


def mappings_dir(*parts: str) -> Path:
    """``mappings/<parts...>``."""
    return _ROOT.joinpath("mappings", *parts)


def profiles_dir() -> Path:
    """``profiles/`` (the implementation guide: the national and Jiayi CodeSystems)."""
    return _ROOT / "profiles"


@functools.cache
def ig_codes(code_system_id: str) -> frozenset[str]:
    """Every code of the IG's ``CodeSystem-<id>.json`` (nested concepts included)."""
    resource = json.loads((profiles_dir() / f"CodeSystem-{code_system_id}.json").read_text(encoding="utf-8"))
    codes, stack = set(), list(resource.get("concept", []))
    while stack:
        concept = stack.pop()
        codes.add(concept["code"])
        stack.extend(concept.get("concept", []))
    return frozenset(codes)
