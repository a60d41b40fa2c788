"""A profile's differential against the type it constrains (FHIR R4 profiling.html,
elementdefinition.html; the snapshot generator's own preconditions).

For a StructureDefinition with ``derivation = constraint`` on an R4 type:

- every ``differential.element.path`` starts with that type, and a choice element is narrowed
  only to one of its types: ``Observation.valueQuantity`` is an element of Observation,
  ``Observation.valueBla`` is not, and no snapshot can be generated from it.  A name the element
  tree does not know at all is not judged: the tree is derived from the packaged definitions,
  and one official R4 example (StructureDefinition-picoelement) names EvidenceVariable elements
  of another version of that resource;
- a ``type.profile`` that is an R4 type's own definition (``…/StructureDefinition/Count``) is
  for that type: a ``Quantity`` element profiled with ``Count`` names another type (R4 Count is
  a specialization of Quantity, not a profile of it); a ``Resource`` element may be profiled
  with a resource type's definition (``Bundle.entry.resource`` as an Observation).  Profiles this server does not hold
  (IG profiles, ``SimpleQuantity``) are not judged here.

Paths are followed as far as the R4 element tree says what is under them: below a choice left
open (``value[x]`` with several types) or a nested resource, nothing is judged.
"""

from __future__ import annotations

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import structures
from fhir_server.validation.conformance import base_type

OPAQUE = frozenset({"Resource", "DomainResource"})


def differential_issues(sd: dict, where: str) -> list[Issue]:
    registry = structures()
    root = sd.get("type")
    differential = sd.get("differential")
    if sd.get("derivation") != "constraint" or sd.get("kind") == "logical" or not isinstance(root, str) \
            or registry.kind(root) is None or not isinstance(differential, dict):
        return []
    elements = differential.get("element")
    issues: list[Issue] = []
    for i, element in enumerate(elements if isinstance(elements, list) else []):
        if not isinstance(element, dict):
            continue
        loc = f"{where}.differential.element[{i}]"
        path = element.get("path")
        if isinstance(path, str):
            problem = _path_problem(root, path)
            if problem:
                issues.append(Issue("invalid", f"Differential path '{path}': {problem}; no snapshot can be "
                                    "generated from it", expression=(f"{loc}.path",)))
        for j, type_ref in enumerate(element.get("type") or []):
            if not isinstance(type_ref, dict) or not isinstance(type_ref.get("code"), str):
                continue
            for k, profile in enumerate(type_ref.get("profile") or []):
                named = base_type(profile) if isinstance(profile, str) else None
                if named is not None and named != type_ref["code"] \
                        and not (type_ref["code"] in OPAQUE and registry.is_resource_type(named)):
                    issues.append(Issue("invalid", f"Profile {profile} is the definition of the type {named}, "
                                        f"but the element's type is {type_ref['code']}",
                                        expression=(f"{loc}.type[{j}].profile[{k}]",)))
    return issues


def _path_problem(root: str, path: str) -> str | None:
    """Why ``path`` is not an element of ``root`` (None when it is, or when the tree cannot say)."""
    registry = structures()
    first, *rest = path.split(".")
    if first != root:
        return f"a profile of {root} starts its paths with '{root}'"
    current: str | None = root
    walked = root
    for name in rest:
        if current is None or current in OPAQUE:
            return None
        children = registry.children(current)
        element = children.get(name)
        if element is not None:
            current = element.children_path(element.types[0]) if len(element.types) == 1 else None
        else:
            resolved = registry.resolve(current, name)
            if resolved is None:
                choice = next((c for c in children.values() if c.is_choice and name.startswith(c.base_name)), None)
                if choice is None:
                    return None  # not in this element tree: left to the tree's own R4 version
                return (f"'{name}' is not {walked}.{choice.name} narrowed to one of its types "
                        f"({', '.join(choice.types)})")
            current = resolved.children_path
        walked = f"{walked}.{name}"
    return None
