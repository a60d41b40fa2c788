"""Find the JSON nodes a FHIRPath Patch path selects (FHIR R4 fhirpatch.html, "path").

fhirpathpy evaluates FHIRPath to *values*; a patch needs *places*: which JSON object holds
the element, under which property name, at which array position.  So this module walks
the resource itself for the path subset :mod:`fhir_server.patch.path` parses, typing each
step with the structure registry (choice names, backbone paths, primitives whose id and
extensions live in the ``_name`` companion).  Only ``where(...)`` criteria are handed to
fhirpathpy, evaluated on each candidate node.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.core.errors import BadRequest
from fhir_server.core.fhirpath import evaluate
from fhir_server.definitions.structures import ElementDef, Resolved, structures
from fhir_server.patch.errors import cannot_apply
from fhir_server.patch.path import Step, parse_path

ROOT_NAMES = frozenset({"Resource", "DomainResource"})


@dataclass(eq=False)
class Node:
    """One selected element: ``owner[key]`` or ``owner[key][index]``; the resource itself at the root."""

    owner: dict
    key: str
    index: int | None
    type_code: str
    children_path: str  # registry path describing this element's children
    element: ElementDef | None = None  # None only for the root
    up: Node | None = None

    @property
    def is_root(self) -> bool:
        return self.up is None

    @property
    def is_primitive(self) -> bool:
        return structures().is_primitive(self.type_code)

    def value(self):
        """The JSON value; for a primitive the bare value (None when it only has extensions)."""
        return _item(self.owner.get(self.key), self.index)

    def companion(self) -> dict | None:
        """The ``_key`` object holding a primitive's id and extensions (FHIR R4 json.html#primitive)."""
        return _item(self.owner.get("_" + self.key), self.index)

    def content(self, create: bool = False) -> dict | None:
        """The JSON object where this element's children live; made on demand for a primitive."""
        if not self.is_primitive:
            value = self.value()
            return value if isinstance(value, dict) else None
        found = self.companion()
        if found is not None or not create:
            return found
        if self.index is None:
            return self.owner.setdefault("_" + self.key, {})
        companions = self.owner.setdefault("_" + self.key, [])
        companions.extend([None] * (len(self.owner.get(self.key) or []) - len(companions)))
        companions[self.index] = {}
        return companions[self.index]


def _item(value, index: int | None):
    if index is None:
        return value
    return value[index] if isinstance(value, list) and index < len(value) else None


def root_node(resource: dict) -> Node:
    resource_type = resource.get("resourceType", "")
    return Node({resource_type: resource}, resource_type, None, resource_type, resource_type)


def locate(resource: dict, path: str) -> list[Node]:
    """Every node ``path`` selects in ``resource``, in document order."""
    steps = parse_path(path)
    nodes = [root_node(resource)]
    first = steps[0]
    if not first.call and first.name in ROOT_NAMES | {resource.get("resourceType")}:
        nodes, steps = _index(nodes, first.indexes), steps[1:]
    elif not first.call and structures().is_resource_type(first.name):
        # FHIRPath would quietly select nothing, turning a delete into a silent no-op.
        raise cannot_apply(
            f"{path} is about {first.name}, but the resource is a {resource.get('resourceType')}"
        )
    for step in steps:
        nodes = _index(
            _function(step, nodes, resource) if step.call else _children(nodes, step.name), step.indexes
        )
    return nodes


def element_of(node: Node, name: str) -> tuple[ElementDef, str | None]:
    """The element ``name`` under ``node``: a name (``deceased``) or a typed choice (``deceasedBoolean``)."""
    elements = structures().children(node.children_path)
    element = elements.get(name) or elements.get(name + "[x]")
    if element is not None:
        return element, None
    hit = structures().resolve(node.children_path, name)
    if hit is None:
        raise cannot_apply(f"{node.children_path} has no element named {name!r}")
    return hit.element, hit.type_code


def _children(nodes: list[Node], name: str) -> list[Node]:
    found: list[Node] = []
    for node in nodes:
        content = node.content()
        if content is None:
            continue
        element, type_code = element_of(node, name)
        if element.is_choice and type_code is None:  # ``value`` selects whichever value[x] is present
            keys = [
                key for key, (el, _) in structures().json_keys(node.children_path).items() if el is element
            ]
        else:
            keys = [name]
        for key in keys:
            hit = structures().resolve(node.children_path, key)
            if hit is not None:
                found.extend(_expand(node, content, key, hit))
    return found


def _expand(parent: Node, content: dict, key: str, hit: Resolved) -> list[Node]:
    values, companions = content.get(key), content.get("_" + key)
    if values is None and companions is None:
        return []
    if not hit.element.is_array:
        return [_node(parent, content, key, None, hit)]
    count = max(len(values or ()), len(companions or ()))
    return [_node(parent, content, key, i, hit) for i in range(count)]


def _node(parent: Node, content: dict, key: str, index: int | None, hit: Resolved) -> Node:
    node = Node(content, key, index, hit.type_code, hit.children_path, hit.element, parent)
    if hit.type_code == "Resource":  # contained resources are typed by their own resourceType
        value = node.value()
        node.type_code = node.children_path = value.get("resourceType", "") if isinstance(value, dict) else ""
    return node


def _index(nodes: list[Node], indexes: tuple[int, ...]) -> list[Node]:
    for index in indexes:
        nodes = nodes[index : index + 1]
    return nodes


def _function(step: Step, nodes: list[Node], resource: dict) -> list[Node]:
    name, arg = step.name, step.arg or ""
    if name == "where":
        return [n for n in nodes if _matches(n, arg, resource)]
    if name == "ofType":
        wanted = arg.removeprefix("FHIR.")
        return [n for n in nodes if n.type_code == wanted]
    if name == "extension":
        url = _string_literal(arg)
        return [n for n in _children(nodes, "extension") if (n.value() or {}).get("url") == url]
    if name in ("first", "last", "tail"):
        return {"first": nodes[:1], "last": nodes[-1:], "tail": nodes[1:]}[name]
    count = _integer_literal(arg)
    return nodes[count:] if name == "skip" else nodes[:count]


def _matches(node: Node, criteria: str, resource: dict) -> bool:
    """Does ``where(criteria)`` keep ``node``?  fhirpathpy decides, on the node's own value."""
    value = node.value()
    if value is None:
        return False
    try:
        return bool(evaluate(value, f"where({criteria})", node.children_path,
                             {"resource": resource, "rootResource": resource}))
    except Exception as exc:  # fhirpathpy raises plain Exceptions for syntax and type errors
        raise BadRequest(f"Cannot evaluate where({criteria}): {exc}") from exc


def _string_literal(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] == "'":
        return arg[1:-1].replace("\\'", "'")
    raise BadRequest(f"Expected a quoted string, found {arg!r}")


def _integer_literal(arg: str) -> int:
    if arg.isdigit():
        return int(arg)
    raise BadRequest(f"Expected a non-negative integer, found {arg!r}")
