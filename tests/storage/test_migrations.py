"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fhir_server.storage.db import Database
from fhir_server.storage.index_tables import dialect_specific
from fhir_server.storage.schema import metadata


def test_models_match_migrations(database_url):
    db = Database(database_url)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": False, "include_name": lambda name, *_: not dialect_specific(name)})
        differences = compare_metadata(context, metadata)
    db.dispose()
    assert differences == []
