"""The terminology service with the store behind it: ValueSets, CodeSystems and ConceptMaps that
users POST are found by canonical URL like the IG's own (SPEC §2.3 $expand..., §2.2 ``:in``)."""

from __future__ import annotations

from fhir_server import search as engine
from fhir_server.repository.base import UnitOfWork
from fhir_server.terminology.service import Terminology

MAX_HITS = 5


def store_terminology(uow: UnitOfWork) -> Terminology:
    """A :class:`Terminology` that also looks in the store (IG first, then stored, then official R4)."""

    def fetch(res_type: str, params: list[tuple[str, str]]) -> list[dict]:
        request = engine.parse_search(res_type, [*params, ("_count", str(MAX_HITS))], registry=uow.search_params())
        return [row.content for row in uow.search(request).matches if row.content]

    return Terminology(fetch)
