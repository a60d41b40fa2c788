"""Extensions wherever they appear (FHIR R4 extensibility.html): every extension whose url names
a known StructureDefinition is checked against it — context, value type, nested parts — and an
unknown Jiayi extension url is an error, also in a resource that claims no profile.  Used by
``$validate`` and ``jiayi validate`` (the write path checks extensions through the claimed
profile only)."""

from __future__ import annotations

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import INLINE_TYPES, structures
from fhir_server.validation.conformance import Conformance
from fhir_server.validation.core_extensions import extension_holders
from fhir_server.validation.profile import EXTENSIONS, ProfileCheck, Resolver

RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})


def extension_issues(conformance: Conformance, resource: dict, where: str, resolve: Resolver,
                     checked: set[tuple[int, str, str, str]] | None = None,
                     holders: set[int] | None = None) -> list[Issue]:
    """``checked``: the extensions (by identity, location and host) whose checks ran already in
    the same validation (the profile walk): their issues are there, they are not checked again.
    ``holders``: :func:`.core_extensions.extension_holders` of ``resource``, when the caller has it."""
    if holders is None:
        holders = extension_holders(resource)
    if id(resource) not in holders:
        return []
    check = ProfileCheck(conformance, resolve, checked=checked)
    check.resource = check.root = resource
    _walk(check, resource, str(resource.get("resourceType")), str(resource.get("resourceType")), where, holders)
    return check.issues


def _walk(check: ProfileCheck, node: dict, path: str, host_type: str, where: str, holders: set[int]) -> None:
    registry = structures()
    for key, value in node.items():
        if id(value) not in holders and key not in EXTENSIONS:
            continue  # no extension inside: nothing to check
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            loc = f"{where}.{key}[{i}]" if isinstance(value, list) else f"{where}.{key}"
            if key in EXTENSIONS:
                check.free_extension(item, loc, path, host_type)
                continue
            hit = registry.json_keys(path).get(key)
            if hit is None or hit[1] in RESOURCE_TYPES:
                continue  # nested resources are validated on their own
            element, type_code = hit
            if element.ref is not None or type_code in INLINE_TYPES:
                _walk(check, item, element.children_path(type_code), "BackboneElement", loc, holders)
            else:
                _walk_type(check, item, element.path, type_code, loc, holders)


def _walk_type(check: ProfileCheck, node: dict, element_path: str, type_code: str, where: str,
               holders: set[int]) -> None:
    """A data-type value: its own extensions have the element as host; deeper ones their type."""
    for i, ext in enumerate(_list(node.get("extension"))):
        if isinstance(ext, dict):
            check.free_extension(ext, f"{where}.extension[{i}]", element_path, type_code)
    rest = {k: v for k, v in node.items() if k != "extension"}
    _walk(check, rest, type_code, type_code, where, holders)


def _list(value: object) -> list:
    """An array property's items; [] for anything else (a wrong JSON type is the schema's to report)."""
    return value if isinstance(value, list) else []
