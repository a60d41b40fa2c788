"""All tables, as one MetaData: what Alembic migrations must agree with (tests check it)."""

import contextlib

from fhir_server.storage import export_jobs, models, subscription_tables  # noqa: F401  (register the tables)
from fhir_server.storage.models import Base

# search index tables, owned by the search layer's storage module (absent only while it does not exist)
with contextlib.suppress(ImportError):
    from fhir_server.storage import index_tables  # noqa: F401

metadata = Base.metadata
