"""The CapabilityStatement at ``/metadata`` (R4 http §capabilities), generated from what is
registered: resource types from the definitions, search parameters from the search registry,
operations from the operation registry."""

from __future__ import annotations

from functools import cache

from fhir_server import __version__
from fhir_server.definitions import ig
from fhir_server.definitions.structures import structures
from fhir_server.operations.registry import OperationRegistry
from fhir_server.search import registry as search_registry
from fhir_server.search.docs import param_documentation

INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
                "search-type"]
FORMATS = ["application/fhir+json", "application/fhir+xml", "json", "xml"]


def capability_statement(base_url: str, operations: OperationRegistry, published: str,
                         security: dict | None = None) -> dict:
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published,
        "publisher": "Jiayi project",
        "kind": "instance",
        "software": {"name": "Jiayi", "version": __version__},
        "implementation": {"description": "Jiayi (家医) FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": FORMATS,
        "implementationGuide": [ig.IG_URL],
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            "resource": [_resource(t, operations) for t in structures().resource_types],
            "interaction": [{"code": c} for c in ("transaction", "batch", "search-system", "history-system")],
            "operation": [_operation(op) for op in operations.all() if op.system],
        }],
    }
    if security:
        statement["rest"][0]["security"] = security  # type: ignore[index]
    return statement


def _resource(res_type: str, operations: OperationRegistry) -> dict:
    entry = {
        "type": res_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{res_type}",
        **_supported_profiles(res_type),
        "interaction": [{"code": code} for code in INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "referencePolicy": ["literal", "logical"],
        "searchParam": _search_params(res_type),
    }
    ops = [_operation(op) for op in operations.all() if (op.type_level or op.instance)
           and (op.resource_types is None or res_type in op.resource_types)]
    if ops:
        entry["operation"] = ops
    return entry


def _supported_profiles(res_type: str) -> dict:
    profiles = ig.profiles_by_type().get(res_type)
    return {"supportedProfile": profiles} if profiles else {}


@cache
def _search_params_cached(res_type: str) -> tuple:
    """The standard parameters plus the IG's custom ones (part of the base registry)."""
    params = search_registry.base_registry().for_type(res_type)
    return tuple(sorted(((p.code, p.url, p.type, param_documentation(res_type, p.code)) for p in params.values()),
                        key=lambda p: p[0]))


def _search_params(res_type: str) -> list[dict]:
    return [{"name": code, "definition": url, "type": kind, **({"documentation": doc} if doc else {})}
            for code, url, kind, doc in _search_params_cached(res_type)]


def _operation(op) -> dict:
    return {"name": op.name, "definition": op.definition}
