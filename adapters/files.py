"""Where the adapters' tables are: the directory that holds ``mappings/`` and ``profiles/``.

A source checkout has both at the repository root (SPEC §3, §5); a wheel carries them inside
this package (``adapters/mappings``, ``adapters/profiles``: see setup.py), so an installed
adapter reads the same tables.  Every path to them is built from :data:`ROOT`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
ROOT = _PACKAGE if (_PACKAGE / "mappings").is_dir() else _PACKAGE.parent
