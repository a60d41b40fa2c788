"""Helpers tests import (not fixtures): where shared/ is, and migrated database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or skip the test when the reference material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material not found: {path} (tests that read shared/ need it beside the checkout)")
    return path


def migrated_url(backend: str, request, tmp_path_factory) -> str:
    """A migrated database URL for ``backend`` ("sqlite" or "postgresql")."""
    from fhir_server.storage.db import Database
    from fhir_server.storage.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'jiayi.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_server_url")
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    return url
