"""The HTTP-agnostic request and response every interaction speaks.

The Flask layer builds a :class:`FhirRequest` from HTTP; batch and transaction processing
build one per Bundle entry; both get a :class:`FhirResponse` back.  Nothing here knows Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir_server.auth.principal import ANONYMOUS, Principal
from fhir_server.repository.base import StoredResource


@dataclass(frozen=True, slots=True)
class Prefer:
    """The ``Prefer`` header (R4 http §ops): return and handling preferences."""

    return_: str = "representation"  # minimal | representation | OperationOutcome
    handling: str = "lenient"  # strict | lenient
    respond_async: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        values: dict[str, str] = {}
        flags: set[str] = set()
        for part in (header or "").replace(";", ",").split(","):
            part = part.strip()
            if "=" in part:
                key, value = part.split("=", 1)
                values[key.strip().lower()] = value.strip().strip('"')
            elif part:
                flags.add(part.lower())
        return_ = values.get("return", "representation")
        if return_ not in ("minimal", "representation", "OperationOutcome"):
            return_ = "representation"
        handling = values.get("handling", "lenient")
        return cls(return_, handling if handling in ("strict", "lenient") else "lenient",
                   "respond-async" in flags)


@dataclass(slots=True)
class FhirRequest:
    method: str  # GET | POST | PUT | PATCH | DELETE | HEAD
    path: str  # relative to the FHIR base, no leading slash: "Patient/1/_history/2"
    query: list[tuple[str, str]] = field(default_factory=list)
    body: object = None  # the parsed body: a dict (a resource), a list (JSON Patch), None, or whatever JSON was sent
    content_type: str = "application/fhir+json"  # of the body, already parsed into ``body``
    if_match: str | None = None
    if_none_match: str | None = None
    if_none_exist: str | None = None
    if_modified_since: datetime | None = None
    prefer: Prefer = field(default_factory=Prefer)
    max_age: int | None = None  # Cache-Control: max-age: an answer this many seconds old will do (kept MeasureReports)
    only_if_cached: bool = False  # Cache-Control: only-if-cached: a kept answer or none (504), never one made now
    base_url: str = "http://localhost/fhir"
    principal: Principal = ANONYMOUS
    grant: Any = None  # auth.access.Grant the interaction runs under (set by the router)

    def query_value(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


@dataclass(slots=True)
class FhirResponse:
    status: int
    resource: dict | None = None
    stored: StoredResource | None = None  # gives ETag, Last-Modified
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # False when ``resource`` is an OperationOutcome/Bundle that Prefer must not replace
    is_stored_representation: bool = False
