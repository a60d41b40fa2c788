"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every storage test.

PostgreSQL is found at ``JIAYI_TEST_POSTGRES_URL`` (default: the local server on
127.0.0.1:5432, database ``postgres``).  Each test session creates its own throw-away
database there and drops it at the end, so parallel runs never meet.  Where PostgreSQL
cannot be reached the PostgreSQL half is skipped with a visible notice, unless
``JIAYI_REQUIRE_POSTGRES=1`` (set by CI), which turns that into a failure.

The reference material in ``../shared`` (official R4 definitions and examples, HL7 v2
samples) is read by about 300 tests, which skip without it; with ``JIAYI_REQUIRE_SHARED=1``
(set by CI) a missing ``../shared`` stops the run before any test, and a missing file fails.
"""

from __future__ import annotations

import os
import uuid

import pytest
from helpers import REQUIRED_SHARED, SHARED, migrated_url, shared_path  # noqa: F401  (re-exported for tests)
from sqlalchemy import create_engine, text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_admin_url() -> str:
    return os.environ.get("JIAYI_TEST_POSTGRES_URL", DEFAULT_PG)


def _postgres_available() -> str | None:
    try:
        engine = create_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


@pytest.fixture(scope="session")
def postgres_server_url():
    """Create a throw-away PostgreSQL database for this test session; yield its URL."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("JIAYI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (JIAYI_REQUIRE_POSTGRES=1) but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {_postgres_admin_url()} ({problem}); PostgreSQL half skipped")
    name = f"jiayi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin.url.set(database=name).render_as_string(hide_password=False)
    yield base
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A migrated, empty-at-start database URL per backend (session-scoped: tests must not
    assume emptiness; use unique ids or clean up).  Storage tests take this fixture and so
    run on both databases."""
    return migrated_url(request.param, request, tmp_path_factory)


def pytest_configure(config):
    missing = [name for name in REQUIRED_SHARED if not (SHARED / name).is_dir()]
    if missing and os.environ.get("JIAYI_REQUIRE_SHARED") == "1":
        raise pytest.UsageError(f"JIAYI_REQUIRE_SHARED=1 but the reference material is missing: "
                                f"{', '.join(str(SHARED / m) for m in missing)} (../shared beside the checkout)")


def pytest_report_header(config):
    lines = []
    missing = [name for name in REQUIRED_SHARED if not (SHARED / name).is_dir()]
    if missing:
        lines.append(f"shared/: NOT found at {SHARED} — the tests that read it will be SKIPPED")
    problem = _postgres_available()
    if problem:
        lines.append(f"PostgreSQL: NOT reachable at {_postgres_admin_url()} — PostgreSQL tests will be SKIPPED "
                     f"({problem})")
    else:
        lines.append(f"PostgreSQL: reachable at {_postgres_admin_url()}")
    return lines
