"""All tables, as one MetaData: what Alembic migrations must agree with (tests check it)."""

from fhir_server.storage import models  # noqa: F401  (registers the tables)
from fhir_server.storage.models import Base

try:  # search index tables, owned by the search layer's storage module
    from fhir_server.storage import index_tables  # noqa: F401
except ImportError:  # pragma: no cover - only while the module does not exist
    pass

metadata = Base.metadata
