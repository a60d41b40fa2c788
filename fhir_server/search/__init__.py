"""Search (FHIR R4 §3.1.1): query string → :class:`SearchRequest`; resource → index rows;
SearchRequest → SQL (or the in-memory twin); stable paging.

The repository calls :func:`index_resource` on every write and :func:`execute_search` to
answer a search; :func:`parse_search` runs first, so malformed queries fail before any SQL.
"""

from fhir_server.search.cost import Limits
from fhir_server.search.page import SearchPage
from fhir_server.search.parser import parse_search
from fhir_server.search.registry import ParamRegistry, base_registry
from fhir_server.search.request import PAGE_PARAM, SearchRequest
from fhir_server.search.sql.execute import execute_search
from fhir_server.search.sql.indexer import (
    REGISTRY_TTL,
    current_registry,
    index_resource,
    index_server_records,
    reindex,
    write_index_rows,
)
from fhir_server.search.sql.meta import meta_in_use

__all__ = [
    "PAGE_PARAM",
    "REGISTRY_TTL",
    "Limits",
    "MemorySearch",
    "ParamRegistry",
    "SearchPage",
    "SearchRequest",
    "base_registry",
    "current_registry",
    "execute_search",
    "index_resource",
    "index_server_records",
    "meta_in_use",
    "parse_search",
    "reindex",
    "write_index_rows",
]


def __getattr__(name: str):  # MemorySearch lives in .memory; imported lazily to keep startup light
    if name == "MemorySearch":
        from fhir_server.search.memory import MemorySearch

        return MemorySearch
    raise AttributeError(name)
