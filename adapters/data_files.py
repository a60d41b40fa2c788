"""Where the adapters find their data files (``mappings/`` tables and ConceptMaps, ``profiles/``).

A source checkout has both at the repository root (SPEC §3, §5); a wheel carries them inside
this package (``adapters/mappings``, ``adapters/profiles``: see setup.py), so an installed
adapter reads the same tables.  Every run-time read of a data file goes through these
functions."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_ROOT = _PACKAGE if (_PACKAGE / "mappings").is_dir() else _PACKAGE.parent


def mappings_dir(*parts: str) -> Path:
    """``mappings/<parts...>``."""
    return _ROOT.joinpath("mappings", *parts)


def profiles_dir() -> Path:
    """``profiles/`` (the implementation guide: the national and Jiayi CodeSystems)."""
    return _ROOT / "profiles"
