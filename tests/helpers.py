"""Helpers tests import (not fixtures): where shared/ is, and migrated database URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REQUIRED_SHARED = ("fhir-r4", "fhir-r4/examples", "hl7v2-samples")  # what the tests read there


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or skip the test when the reference material is absent (fail
    instead under ``JIAYI_REQUIRE_SHARED=1``, as in CI)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("JIAYI_REQUIRE_SHARED") == "1":
            pytest.fail(f"reference material not found: {path} (JIAYI_REQUIRE_SHARED=1)")
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


def fresh_database_url(backend: str, request, tmp_path_factory) -> str:
    """A new, migrated, empty database of its own for ``backend`` (dropped at the end of the scope
    that asked for it): for tests whose numbers depend on everything in the database."""
    import uuid

    from sqlalchemy import create_engine, text

    if backend == "sqlite":
        return migrated_url("sqlite", request, tmp_path_factory)
    shared = request.getfixturevalue("postgres_server_url")  # skips or fails as the suite decides
    admin = create_engine(shared, isolation_level="AUTOCOMMIT")
    name = f"jiayi_fresh_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    from fhir_server.storage.db import Database
    from fhir_server.storage.migrate import upgrade

    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    return url
