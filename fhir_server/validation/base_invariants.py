"""The invariants of base R4 on a resource (FHIR R4 conformance-rules.html; the ``constraint``s of
``profiles-resources.json`` and ``profiles-types.json``).

Walks the resource along the R4 element tree and evaluates, on each complex element, the
invariants of its element path (``Patient.contact`` → pat-1) or of its data type
(``Period`` → per-1, ``Reference`` → ref-1), those of ``DomainResource`` (dom-2..dom-6) on
the resource, and ele-1 / ext-1 natively on every element.  Each invariant runs as compiled
Python (:mod:`.invariant_compiler`) when its expression is in the compiled subset, else (or
when the compiled code cannot decide) on the FHIRPath engine; per-1 compares instants natively
(:mod:`.native_invariants`).  The write path evaluates the
error invariants only (``errors_only``): a warning never refuses a write.  Nested resources
(``contained``, ``Bundle.entry.resource``) are walked as resources of their own.  ``$validate``
checks them inside the structure walk (:func:`.resource.validate_with_invariants`), which calls
:meth:`InvariantWalker.element` on each object it enters and :meth:`InvariantWalker.children`
for those it does not.
"""

from __future__ import annotations

from functools import cache

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import INLINE_TYPES, structures
from fhir_server.validation.invariant_compiler import compile_invariant
from fhir_server.validation.invariants import Invariant, base_invariants, ext_1, holds, ref_1
from fhir_server.validation.native_invariants import NATIVE

RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
NOT_DOMAIN = frozenset({"Bundle", "Binary", "Parameters"})


def invariant_issue(inv: Invariant, where: str) -> Issue:
    severity = "error" if inv.severity == "error" else "warning"
    return Issue("invariant", f"Constraint {inv.key} failed: {inv.human} (FHIRPath: {inv.expression})",
                 severity=severity, expression=(where,))


class InvariantWalker:
    def __init__(self, root: dict, errors_only: bool = False) -> None:
        self.registry = structures()
        self.errors_only = errors_only
        self.table = _plan(errors_only)
        self.root = root
        self.issues: list[Issue] = []
        self.done = False  # walker.walk: the structure walk checked them all

    def resource(self, node: dict, where: str, container: dict | None = None) -> None:
        res_type = node.get("resourceType")
        if not isinstance(res_type, str) or not self.registry.is_resource_type(res_type):
            return
        root = container if container is not None else node
        self.resource_own(node, res_type, where, root)
        self.children(node, res_type, where, node, root)

    def resource_own(self, node: dict, res_type: str, where: str, root: dict) -> None:
        """The invariants of a resource itself (DomainResource's and its type's), not its elements'."""
        for key in ("DomainResource", res_type) if res_type not in NOT_DOMAIN else (res_type,):
            steps = self.table.get(key)
            if steps:  # most element paths and types have no invariant of their own
                self.evaluate(steps, node, res_type, where, node, root)

    def evaluate(self, steps: tuple[Step, ...], node: object, base: str, where: str, resource: dict,
                 root: dict) -> None:
        for inv, fast, on_contained in steps:
            if on_contained and isinstance(node, dict) and "contained" not in node:
                continue  # dom-2..dom-5 only look at contained resources: nothing to evaluate (and dom-3 is costly)
            if fast is NATIVE_CHECK:
                result = NATIVE[inv.key](node)
            elif fast is not None:
                result = fast(node, resource, root)  # type: ignore[operator]  # a compiled check
            else:
                result = None
            if result is None:
                result = holds(inv, node, base, resource, root)
            if result is False:
                self.issues.append(invariant_issue(inv, where))

    def children(self, node: dict, path: str, where: str, resource: dict, root: dict) -> None:
        keys = child_plan(path)
        for key, value in node.items():
            hit = keys.get(key)
            if hit is None:
                continue
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        if hit[0] == RESOURCE:
                            self.resource(item, f"{where}.{key}[{i}]", resource if key == "contained" else None)
                        else:
                            self.element(item, hit, f"{where}.{key}[{i}]", resource, root)
            elif isinstance(value, dict):
                if hit[0] == RESOURCE:
                    self.resource(value, f"{where}.{key}", resource if key == "contained" else None)
                else:
                    self.element(value, hit, f"{where}.{key}", resource, root)

    def element(self, item: dict, hit: Child, where: str, resource: dict, root: dict, descend: bool = True) -> None:
        """The invariants of one element: ele-1, ext-1 and ref-1 natively, then its element path's or
        data type's (``hit[1]``: the element path of inline and recursive elements, else the data
        type); then, with ``descend``, its children's."""
        kind, key = hit
        if len(item) == 1 and "id" in item:  # ele-1 (invariants.ele_1)
            self.issues.append(Issue("invariant", "Constraint ele-1 failed: an element must have a value or "
                                     "children (an object with only an id is empty); omit it instead",
                                     expression=(where,)))
        if kind == EXTENSION and not ext_1(item):
            self.issues.append(Issue("invariant", "Constraint ext-1 failed: an extension has either a value[x] "
                                     "or nested extensions, not both and not neither", expression=(where,)))
        elif kind == REFERENCE and not ref_1(item, root):
            self.issues.append(Issue("invariant", f"Constraint ref-1 failed: {item.get('reference')} names no "
                                     "contained resource (a local reference #id needs a contained resource "
                                     "with that id)",
                                     expression=(where,)))
        steps = self.table.get(key)
        if steps and (kind != PERIOD or ("start" in item and "end" in item)):
            self.evaluate(steps, item, key, where, resource, root)  # per-1 compares start with end
        if descend:
            self.children(item, key, where, resource, root)


# what InvariantWalker.element checks natively besides ele-1, by the value's type
RESOURCE, EXTENSION, REFERENCE, PERIOD, OTHER = 0, 1, 2, 3, 4
NATIVE_KINDS = {"Extension": EXTENSION, "Reference": REFERENCE, "Period": PERIOD}


@cache
def child_plan(path: str) -> dict[str, Child]:
    """For each JSON key under ``path``: (a nested resource, an Extension, a Reference, a Period or
    another element; the element path or data type whose invariants and children apply), worked
    out once per path (issue 19).  Not the invariants themselves: those come from the walker's
    table (:func:`_plan`), which a test builds again without the compiler."""
    plan = {}
    for key, (element, type_code) in structures().json_keys(path).items():
        if key == "resourceType":
            continue
        inline = element.ref is not None or type_code in INLINE_TYPES
        sub = (element.ref or element.path) if inline else type_code
        kind = RESOURCE if type_code in RESOURCE_TYPES else NATIVE_KINDS.get(type_code, OTHER)
        plan[key] = (kind, sub)
    return plan


NATIVE_CHECK = object()  # the plan's marker for an invariant checked in Python (native_invariants)
Step = tuple[Invariant, object, bool]  # (invariant, compiled check | NATIVE_CHECK | None, only with contained)
Child = tuple[int, str]  # (RESOURCE | EXTENSION | …, the element path or data type whose invariants apply)


@cache
def _plan(errors_only: bool) -> dict[str, tuple[Step, ...]]:
    """Per element path or type, the invariants to evaluate, each compiled once: the invariants
    that cannot apply are left out (ele-1, ext-1, ref-1 and bdl-7 are checked natively by the
    walkers; an invariant the engine cannot evaluate and the compiler does not cover could only
    come back "not evaluated"), and so are paths left with none."""
    plan: dict[str, tuple[Step, ...]] = {}
    for path, rows in base_invariants().items():
        steps: list[Step] = []
        for inv in rows:
            if errors_only and inv.severity != "error":
                continue
            if inv.key in NATIVE:
                fast: object = NATIVE_CHECK
            elif inv.evaluable:
                fast = compile_invariant(inv.expression)
            else:
                continue  # holds() would answer None: nothing can be said
            steps.append((inv, fast, inv.expression.startswith("contained.")))
        if steps:
            plan[path] = tuple(steps)
    return plan


def base_invariant_issues(resource: dict, where: str, errors_only: bool = False) -> list[Issue]:
    walker = InvariantWalker(resource, errors_only)
    walker.resource(resource, where)
    return walker.issues
