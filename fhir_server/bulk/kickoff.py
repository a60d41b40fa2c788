"""The ``$export`` kick-off request (Bulk Data IG 2.0.0 "Bulk Data Kick-off Request").

Parameters come from the query string (GET, or POST without a body) or a ``Parameters`` body
(POST).  Everything a client can get wrong is refused here, at kick-off, with a 400 naming the
parameter, so that a job never fails later on its input: the output format, ``_since`` as a FHIR
instant, ``_type`` and ``_typeFilter`` types, each ``_typeFilter`` query parsed by the search
engine.  ``includeAssociatedData`` is accepted and its values ignored (the IG allows a server to
ignore values it does not support).  Other parameters are ignored, or refused under
``Prefer: handling=strict`` as the IG suggests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fhir_server.core.errors import BadRequest
from fhir_server.core.instants import fhir_instant, parse_fhir_range
from fhir_server.definitions.structures import structures
from fhir_server.search import parse_search
from fhir_server.search.registry import ParamRegistry

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {"application/fhir+ndjson": NDJSON, "application/ndjson": NDJSON, "ndjson": NDJSON}
KNOWN = {"_outputFormat", "_since", "_type", "_typeFilter", "patient", "includeAssociatedData",
         "_format", "_pretty"}
SYSTEM, PATIENT, GROUP = "system", "patient", "group"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    level: str  # system | patient | group
    request_url: str  # the kick-off URL, echoed as the manifest's ``request``
    types: tuple[str, ...] = ()  # empty: every type the level covers
    since: str | None = None  # an instant (UTC ISO); only resources changed after it
    type_filters: tuple[tuple[str, str], ...] = ()  # (type, search query); several per type are OR'ed
    patients: tuple[str, ...] = ()  # Patient ids (``patient`` parameter, or a Group's members)
    group: str | None = None
    output_format: str = NDJSON
    associated: tuple[str, ...] = ()  # includeAssociatedData values, accepted and ignored

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ExportRequest:
        tuples = {"types", "patients", "associated"}
        values: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        values["type_filters"] = tuple((t, q) for t, q in data.get("type_filters") or ())
        return cls(**values)

    @property
    def since_time(self) -> datetime | None:
        return datetime.fromisoformat(self.since) if self.since else None


def parameters(query: list[tuple[str, str]], body: object) -> list[tuple[str, str]]:
    """The kick-off parameters as (name, text) pairs, from the query and a Parameters body."""
    items = list(query)
    if body is None:
        return items
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("A POST kick-off takes a Parameters resource (or no body)", code="structure")
    for parameter in body.get("parameter") or []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        value = _value(parameter) if isinstance(name, str) else None
        if not isinstance(name, str) or value is None:
            raise BadRequest(f"Parameters.parameter '{name}' has no value this operation understands",
                             expression=["Parameters.parameter"])
        items.append((name, value))
    return items


def _value(parameter: dict) -> str | None:
    for key, value in parameter.items():
        if key == "valueReference" and isinstance(value, dict):
            return value.get("reference")
        if key.startswith("value") and isinstance(value, str):
            return value
    return None


def parse(items: list[tuple[str, str]], level: str, request_url: str, registry: ParamRegistry,
          strict: bool = False, posted: bool = False) -> ExportRequest:
    """The checked kick-off; :class:`BadRequest` names the first parameter that is wrong."""
    values: dict[str, list[str]] = {}
    for name, value in items:
        if name not in KNOWN:
            if strict:
                raise BadRequest(f"$export does not support the parameter '{name}'", code="not-supported",
                                 expression=[name])
            continue
        values.setdefault(name, []).append(value)
    types = _types(values.get("_type", []))
    return ExportRequest(
        level=level,
        request_url=request_url,
        types=types,
        since=_since(values.get("_since", [])),
        type_filters=_type_filters(values.get("_typeFilter", []), registry),
        patients=_patients(values.get("patient", []), level, posted),
        output_format=_output_format(values.get("_outputFormat", [])),
        associated=tuple(v for raw in values.get("includeAssociatedData", []) for v in _split(raw)),
    )


def _output_format(values: list[str]) -> str:
    if not values:
        return NDJSON
    chosen = OUTPUT_FORMATS.get(values[-1].strip().replace(" ", "+"))
    if chosen is None:
        raise BadRequest(f"_outputFormat '{values[-1]}' is not supported; use application/fhir+ndjson",
                         code="not-supported", expression=["_outputFormat"])
    return chosen


def _since(values: list[str]) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest("_since may be given once", expression=["_since"])
    value = values[0].strip()
    if "T" not in value:
        raise BadRequest(f"_since '{value}' is not a FHIR instant (date, time and time zone)",
                         expression=["_since"])
    low, _ = parse_fhir_range(value, "_since")
    if low > datetime.now(UTC).replace(tzinfo=None):  # naive UTC, like the store
        raise BadRequest(f"_since {fhir_instant(low)} is in the future", expression=["_since"])
    return low.isoformat()


def _types(values: list[str]) -> tuple[str, ...]:
    types: list[str] = []
    for name in (t for raw in values for t in _split(raw)):
        _require_type(name, "_type")
        if name not in types:
            types.append(name)
    return tuple(types)


def _type_filters(values: list[str], registry: ParamRegistry) -> tuple[tuple[str, str], ...]:
    filters: list[tuple[str, str]] = []
    for value in values:
        res_type, _, query = value.partition("?")
        _require_type(res_type, "_typeFilter")
        if not query:
            raise BadRequest(f"_typeFilter '{value}' has no query (Type?param=value)", expression=["_typeFilter"])
        try:
            parse_search(res_type, parse_qsl(query, keep_blank_values=True), registry=registry, strict=True)
        except BadRequest as refused:
            raise BadRequest(f"_typeFilter '{value}': {refused}", expression=["_typeFilter"]) from None
        filters.append((res_type, query))
    return tuple(filters)


def _patients(values: list[str], level: str, posted: bool) -> tuple[str, ...]:
    if not values:
        return ()
    if level == SYSTEM:
        raise BadRequest("The patient parameter applies to Patient and Group level exports", expression=["patient"])
    if not posted:
        raise BadRequest("The patient parameter is sent in a POST Parameters body", expression=["patient"])
    ids = []
    for reference in values:
        res_type, _, res_id = reference.rstrip("/").rpartition("/")
        if res_type.rpartition("/")[2] != "Patient" or not res_id:
            raise BadRequest(f"patient '{reference}' is not a reference to a Patient", expression=["patient"])
        ids.append(res_id)
    return tuple(ids)


def _require_type(name: str, parameter: str) -> None:
    if name not in structures().resource_types:
        raise BadRequest(f"{parameter}: '{name}' is not an R4 resource type", code="not-supported",
                         expression=[parameter])


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]
