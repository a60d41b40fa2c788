"""The CapabilityStatement at ``/metadata`` (R4 http §capabilities), generated from what is
registered: resource types from the definitions, search parameters from the search registry in
force (the standard and IG ones, and the SearchParameters stored in this server), operations from
the operation registry."""

from __future__ import annotations

from functools import lru_cache
from weakref import WeakKeyDictionary

from fhir_server import __version__
from fhir_server.definitions import ig
from fhir_server.definitions.structures import structures
from fhir_server.operations.registry import OperationRegistry
from fhir_server.search import registry as search_registry
from fhir_server.search.docs import param_documentation
from fhir_server.search.registry import ParamRegistry, SearchParam

INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
                "search-type"]
WEBSOCKET = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket"  # R4 core extension
FORMATS = ["application/fhir+json", "application/fhir+xml", "json", "xml"]


def capability_statement(base_url: str, operations: OperationRegistry, published: str,
                         security: dict | None = None, search_params: ParamRegistry | None = None,
                         websocket: str | None = None) -> dict:
    """``search_params``: the registry in force (``uow.search_params()``); the base one without.
    ``websocket``: the address of the Subscriptions' websocket channel, when there is one."""
    params = search_params or search_registry.base_registry()
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
            "resource": [_resource(t, operations, params) for t in structures().resource_types],
            "interaction": [{"code": c} for c in ("transaction", "batch", "search-system", "history-system")],
            "operation": [_operation(op) for op in operations.all() if op.system],
        }],
    }
    if security:
        statement["rest"][0]["security"] = security  # type: ignore[index]
    if websocket:
        statement["rest"][0]["extension"] = [{"url": WEBSOCKET, "valueUri": websocket}]  # type: ignore[index]
    return statement


def _resource(res_type: str, operations: OperationRegistry, params: ParamRegistry) -> dict:
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
        "searchParam": _search_params(params, res_type),
    }
    ops = [_operation(op) for op in operations.all() if (op.type_level or op.instance)
           and (op.resource_types is None or res_type in op.resource_types)]
    if ops:
        entry["operation"] = ops
    return entry


def _supported_profiles(res_type: str) -> dict:
    profiles = ig.profiles_by_type().get(res_type)
    return {"supportedProfile": profiles} if profiles else {}


# per registry (a registry object stays the same while the stored SearchParameters do not change)
_DESCRIBED: WeakKeyDictionary[ParamRegistry, dict[str, list[dict]]] = WeakKeyDictionary()


def _search_params(registry: ParamRegistry, res_type: str) -> list[dict]:
    described = _DESCRIBED.setdefault(registry, {})
    if res_type not in described:
        described[res_type] = [
            _search_param(res_type, p) for p in sorted(registry.for_type(res_type).values(), key=lambda p: p.code)]
    return [dict(p) for p in described[res_type]]


@lru_cache(maxsize=8192)
def _search_param(res_type: str, param: SearchParam) -> dict:
    doc = param_documentation(res_type, param.code)
    return {"name": param.code, "definition": param.url, "type": param.type, **({"documentation": doc} if doc else {})}


def _operation(op) -> dict:
    return {"name": op.name, "definition": op.definition}
