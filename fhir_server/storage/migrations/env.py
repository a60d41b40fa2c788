"""Alembic environment: the schema of :mod:`fhir_server.storage` on SQLite or PostgreSQL.

The URL comes from the caller (``jiayi db upgrade``, the server's start-up, the tests) via
``config.attributes["connection"]`` or the ``sqlalchemy.url`` option; never from a file in the repo.
"""

from alembic import context

from fhir_server.storage.db import create_db_engine
from fhir_server.storage.index_tables import dialect_specific
from fhir_server.storage.schema import metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the Alembic configuration names no sqlalchemy.url and passes no connection")
    engine = create_db_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      include_name=lambda name, *_: not dialect_specific(name))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
