"""Keep each primitive's ``_name`` companion in step while editing JSON (FHIR R4 json.html#primitive).

In JSON a primitive's value and its id/extensions live in two properties, ``given`` and
``_given``; for repeating elements the two arrays must stay aligned position by position,
with ``null`` where one side has nothing.  Every write the patch operations make goes
through these helpers so that alignment cannot be forgotten.
"""

from __future__ import annotations

from fhir_server.definitions.structures import ElementDef, structures
from fhir_server.patch.locate import Node
from fhir_server.patch.values import Rendered


def length(owner: dict, key: str) -> int:
    return max(len(owner.get(key) or ()), len(owner.get("_" + key) or ()))


def put(owner: dict, out: Rendered) -> None:
    """Set a single-valued element."""
    if out.value is not None:
        owner[out.key] = out.value
    if out.companion:
        owner["_" + out.key] = out.companion


def insert(owner: dict, out: Rendered, index: int) -> None:
    """Insert into a repeating element at ``index`` (its length appends)."""
    size = length(owner, out.key)
    values = owner.setdefault(out.key, [])
    values.extend([None] * (size - len(values)))
    values.insert(index, out.value)
    if out.companion or "_" + out.key in owner:
        companions = owner.setdefault("_" + out.key, [])
        companions.extend([None] * (size - len(companions)))
        companions.insert(index, out.companion)
    _drop_if_empty(owner, out.key)


def remove(owner: dict, key: str, index: int | None) -> None:
    """Remove an element, or one position of a repeating element, with its companion."""
    for name in (key, "_" + key):
        if name not in owner:
            continue
        if index is None:
            del owner[name]
        elif index < len(owner[name]):
            del owner[name][index]
    _drop_if_empty(owner, key)


def take(owner: dict, key: str, index: int) -> Rendered:
    """Remove position ``index`` of a repeating element and return it, ready to insert elsewhere."""
    values, companions = owner.get(key) or [], owner.get("_" + key) or []
    value = values[index] if index < len(values) else None
    companion = companions[index] if index < len(companions) else None
    remove(owner, key, index)
    return Rendered(key, value, companion)


def names_element(node: Node, key: str, element: ElementDef) -> bool:
    """Is ``key`` (or its ``_key``) a JSON name of ``element`` under ``node``?  Choice names vary by type."""
    hit = structures().resolve(node.children_path, key.removeprefix("_"))
    return hit is not None and hit.element is element


def prune_empty(node: Node | None) -> None:
    """Remove ``node`` and its ancestors while a deletion has left them with no content."""
    while node is not None and not node.is_root:
        if node.is_primitive:
            if node.companion() == {}:
                _clear_companion(node)
            if node.value() is not None or node.companion():
                return
        elif node.value():
            return
        remove(node.owner, node.key, node.index)
        node = node.up


def _clear_companion(node: Node) -> None:
    name = "_" + node.key
    if node.index is None:
        del node.owner[name]
    else:
        node.owner[name][node.index] = None
        _drop_if_empty(node.owner, node.key)


def _drop_if_empty(owner: dict, key: str) -> None:
    """A list with nothing but nulls carries no data: FHIR JSON leaves it out."""
    for name in (key, "_" + key):
        items = owner.get(name)
        if isinstance(items, list) and all(item is None for item in items):
            del owner[name]
