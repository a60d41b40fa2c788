"""Where the adapters find their data files (``mappings/`` tables and ConceptMaps, ``profiles/``).

Every run-time read of a data file goes through these functions, so moving the
data into the installed package is a change of this module only."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def mappings_dir(*parts: str) -> Path:
    """``mappings/<parts...>``."""
    return _ROOT.joinpath("mappings", *parts)


def profiles_dir() -> Path:
    """``profiles/`` (the implementation guide: the national and Jiayi CodeSystems)."""
    return _ROOT / "profiles"
