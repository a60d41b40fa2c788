"""FHIRPath Patch (FHIR R4 fhirpatch.html: http://hl7.org/fhir/R4/fhirpatch.html).

A ``Parameters`` resource whose ``operation`` parameters are applied in order to a copy of
the resource.  Each operation's ``path`` is resolved to JSON places by
:mod:`fhir_server.patch.locate`; values are shaped for their target element by
:mod:`fhir_server.patch.values`.  Rules from the specification enforced here:

- a path must select exactly one element; for ``delete`` selecting nothing is not an error;
- ``add`` appends to a repeating element and refuses to overwrite a single one;
- ``insert`` and ``move`` work on a whole list, given by a path ending in the list's name;
- an element left empty by a delete is removed with it, as FHIR forbids empty objects.
"""

from __future__ import annotations

import copy

from fhir_server.core.errors import FHIRError
from fhir_server.definitions.structures import ElementDef
from fhir_server.patch import edit
from fhir_server.patch.errors import cannot_apply
from fhir_server.patch.locate import Node, element_of, locate
from fhir_server.patch.operations import Operation, read_operations
from fhir_server.patch.path import parse_path
from fhir_server.patch.values import render

VERBS = {
    "add": "adding",
    "insert": "inserting",
    "delete": "deleting",
    "replace": "replacing",
    "move": "moving",
}


def apply_fhirpath_patch(resource: dict, parameters: dict) -> dict:
    """Apply the operations of ``parameters`` to a copy of ``resource``; 400/422 on the first failure."""
    operations = read_operations(parameters)
    patched = copy.deepcopy(resource)
    for op in operations:
        try:
            APPLY[op.type](patched, op)
        except FHIRError as exc:
            # Name the failing operation: a Parameters body may carry dozens of them.
            code = exc.issues[0].code if exc.issues else "processing"
            raise type(exc)(
                f"FHIRPath Patch operation {op.number} ({op.type}): {exc}", expression=(op.path,), code=code
            ) from exc
    return patched


def _at_most_one(resource: dict, op: Operation) -> Node | None:
    """The node ``op.path`` selects, if any; selecting several is an error for every operation."""
    nodes = locate(resource, op.path)
    if len(nodes) > 1:
        raise cannot_apply(f"Multiple elements ({len(nodes)}) found at {op.path} when {VERBS[op.type]}")
    return nodes[0] if nodes else None


def _single(resource: dict, op: Operation) -> Node:
    """The one node ``op.path`` selects; selecting nothing is an error except for delete."""
    node = _at_most_one(resource, op)
    if node is None:
        raise cannot_apply(f"No content found at {op.path} when {VERBS[op.type]}")
    return node


def _add(resource: dict, op: Operation) -> None:
    target = _single(resource, op)
    element, _ = element_of(target, op.name)
    out = render(op.value, element, f"{target.children_path}.{element.base_name}")
    content = target.content(create=True)
    if content is None:
        raise cannot_apply(f"{op.path} is not an element that can contain {op.name!r}")
    if element.is_array:
        edit.insert(content, out, len(content.get(out.key) or ()))
        return
    present = [key for key in content if edit.names_element(target, key, element)]
    if present:
        raise cannot_apply(f"{op.path} already has {present[0]!r}; use replace to change it")
    edit.put(content, out)


def _replace(resource: dict, op: Operation) -> None:
    node = _single(resource, op)
    if node.element is None:
        raise cannot_apply("The resource itself cannot be replaced by a FHIRPath Patch")
    out = render(op.value, node.element, op.path)
    if node.index is not None:
        edit.remove(node.owner, node.key, node.index)
        edit.insert(node.owner, out, node.index)
        return
    edit.remove(node.owner, node.key, None)  # a choice element may change its JSON name
    edit.put(node.owner, out)


def _delete(resource: dict, op: Operation) -> None:
    node = _at_most_one(resource, op)
    if node is None:
        return
    if node.is_root:
        raise cannot_apply("The resource itself cannot be deleted by a FHIRPath Patch")
    edit.remove(node.owner, node.key, node.index)
    edit.prune_empty(node.up)


def _list(resource: dict, op: Operation) -> tuple[dict, str, ElementDef]:
    """Where the list ``op.path`` names lives: its owner object, JSON name and element.

    The path must end in the list's own name (``Patient.identifier``) and select all of its
    items; a filtered or indexed path names items, not the list to insert into.
    """
    last = parse_path(op.path)[-1]
    if last.call or last.indexes:
        raise cannot_apply(f"{op.path} must name a list, ending in the element's name, when {VERBS[op.type]}")
    nodes = locate(resource, op.path)
    if not nodes:
        raise cannot_apply(f"No content found at {op.path} when {VERBS[op.type]}")
    first = nodes[0]
    if first.element is None or first.index is None or any(n.owner is not first.owner for n in nodes):
        raise cannot_apply(f"{op.path} does not select a single list when {VERBS[op.type]}")
    return first.owner, first.key, first.element


def _insert(resource: dict, op: Operation) -> None:
    owner, key, element = _list(resource, op)
    size = edit.length(owner, key)
    if op.index > size:
        raise cannot_apply(f"Index {op.index} is outside the list at {op.path} (size {size})")
    edit.insert(owner, render(op.value, element, op.path), op.index)


def _move(resource: dict, op: Operation) -> None:
    owner, key, _ = _list(resource, op)
    size = edit.length(owner, key)
    for label, index in (("source", op.source), ("destination", op.destination)):
        if index >= size:
            raise cannot_apply(f"The {label} {index} is outside the list at {op.path} (size {size})")
    edit.insert(owner, edit.take(owner, key, op.source), op.destination)


APPLY = {"add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move}
