"""Layer 2: what the JSON Schema cannot say (FHIR R4 §2 baseline; json.html, elementdefinition.html).

Walks a resource along the R4 element tree (:func:`structures`) and collects:

- ``required``: elements with ``min`` ≥ 1 in the StructureDefinitions, at every level
  (``Observation.status``, ``Observation.component.code``, ``Narrative.div``,
  ``Extension.url``); a primitive counts as present when only its ``_element`` is sent;
- ``value``: primitive values (:mod:`.primitives`) and empty strings;
- ``structure``: empty objects and arrays (ele-1 and the JSON rules: "never empty"),
  ``null`` as a property's value, ``null`` in an array without an ``_element`` partner, ``_element`` arrays whose length
  differs from the value array;
- ``code-invalid``: required bindings on CodeableConcept / Coding (:mod:`.bindings`), and a
  Coding's code unknown to a complete code system the server holds (:mod:`.codes`); a
  ``code`` with a required binding given only a data-absent-reason (no code at all); codes
  outside an extensible binding's value set, as warnings (:func:`.bindings.check_extensible`);
- ``invariant``: ele-1 on a primitive whose ``_element`` has only an id and no value;
- ``invalid``: a Reference to a type the element does not allow (the R4 ``targetProfile`` of
  the element, derived into the element tree, and the IG's profiles on it), and an Attachment
  whose ``size`` differs from
  its ``data``; a canonical the server knows that names a type the element does not allow
  (:mod:`.canonicals`).

Nested resources (``contained``, ``Bundle.entry.resource``, ``Parameters.parameter.resource``)
are handed to the ``nested`` callback, which validates them by their own resourceType.  Given an
:class:`~.base_invariants.InvariantWalker`, the walk also checks the base invariants of the
resource (issue 19: one walk instead of two in ``$validate``), and it marks where the extensions are
(:func:`.core_extensions.extension_holders`) for the walks over extensions that follow.
Unknown properties and wrong JSON types are skipped here: the schema reports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from fhir_server.core.budget import checkpoint
from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import ElementDef, structures
from fhir_server.validation.base_invariants import EXTENSION, REFERENCE, Child, InvariantWalker, child_plan
from fhir_server.validation.bindings import check_binding, check_code, check_extensible
from fhir_server.validation.canonicals import canonical_types
from fhir_server.validation.codes import unknown_code
from fhir_server.validation.core_extensions import mark_holders
from fhir_server.validation.narrative import narrative_issues
from fhir_server.validation.primitives import REMEMBERED, check_primitive, primitive_issue
from fhir_server.validation.references import allowed_targets, reference_type

Nested = Callable[[dict, str], list[Issue]]
RESOURCE_TYPES = frozenset({"Resource", "DomainResource"})
BOUND_TYPES = frozenset({"CodeableConcept", "Coding"})
_WHITESPACE = re.compile(r"\s")


@cache
def required_keys(path: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """For each mandatory child of ``path``: its name and every JSON key that satisfies it."""
    registry = structures()
    out = []
    for element in registry.children(path).values():
        if element.min < 1:
            continue
        keys = [k for k, (e, _t) in registry.json_keys(path).items() if e is element]
        keys += ["_" + k for k in keys]
        out.append((element.base_name, tuple(keys)))
    return tuple(out)


DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# what Walker.complex does with a key's value: a nested resource; a primitive whose value is the
# only thing checked (PLAIN: checked in the loop, its location written only for an issue); a
# primitive with more to check (narrative, canonical targets, code bindings); a complex value
RESOURCE, PRIMITIVE, COMPLEX, PLAIN = 0, 1, 2, 3
# (element, type code, is an array, RESOURCE | PRIMITIVE | COMPLEX | PLAIN, the path of its
# children, a complex value has checks after its children: reference target, attachment, bindings,
# its key in base_invariants.child_plan, the type code of a PLAIN element that is not an array: its
# string values are checked first of all)
Key = tuple[ElementDef, str, bool, int, str, bool, Child | None, str | None]
Plan = tuple[dict[str, Key], tuple[tuple[str, tuple[str, ...]], ...]]  # (keys, required_keys)


def _key(element: ElementDef, type_code: str, child: Child | None) -> Key:
    registry = structures()
    if type_code in RESOURCE_TYPES:
        kind = RESOURCE
    elif registry.is_primitive(type_code) or type_code == "id":
        more = type_code == "xhtml" or (type_code == "canonical" and element.targets) or (
            type_code == "code" and (element.binding or element.extensible))
        kind = PRIMITIVE if more else PLAIN
    else:
        kind = COMPLEX
    post = (type_code == "Reference" and bool(element.targets)) or type_code in ("Attachment", "Coding") or (
        type_code in BOUND_TYPES and bool(element.binding or element.extensible))
    single_plain = type_code if kind == PLAIN and not element.is_array else None
    return (element, type_code, element.is_array, kind, element.children_path(type_code), post, child, single_plain)


@cache
def key_plan(path: str, is_resource: bool = False) -> Plan:
    """:meth:`StructureRegistry.json_keys` of ``path`` with what :meth:`Walker.complex` asks of
    each key worked out once, and the mandatory children (issue 19)."""
    invariants = child_plan(path)
    keys = {key: _key(element, type_code, invariants.get(key))
            for key, (element, type_code) in structures().json_keys(path).items()}
    if is_resource and "id" in keys:  # the R4 snapshot types Resource.id as System.String; json.html: an id
        keys["id"] = _key(keys["id"][0], "id", invariants.get("id"))
    return keys, required_keys(path)


class Walker:
    def __init__(self, nested: Nested, invariants: InvariantWalker | None = None,
                 holders: set[int] | None = None) -> None:
        self.registry = structures()
        self.nested = nested
        # the base invariants, checked in the same walk (issue 19): on the objects this walk enters,
        # each before its children; the others (a nested resource, an object where a primitive
        # or an array is expected) are handed whole to the invariant walker when this walk meets them
        self.inv = invariants
        # the objects and arrays with an extension inside (core_extensions.extension_holders), marked
        # in the same walk: those it enters as it leaves them, the others by mark_holders
        self.holders: set[int] = holders if holders is not None else set()
        self.issues: list[Issue] = []

    def add(self, code: str, message: str, where: str) -> None:
        self.issues.append(Issue(code, message, expression=(where,)))

    def complex(self, node: dict, path: str, where: str, is_resource: bool = False, child: Child | None = None) -> bool:
        """Check a JSON object whose content is described by ``path`` (a type or backbone path);
        ``child``: its key in :func:`.base_invariants.child_plan`, when its invariants are checked here.
        True when an extension is in it (it is then in ``self.holders``)."""
        inv = self.inv
        if child is not None and inv is not None and (
                len(node) == 1 or child[1] in inv.table or child[0] == EXTENSION
                or (child[0] == REFERENCE and str(node.get("reference"))[:1] == "#")):
            # what InvariantWalker.element can find: ele-1 (only an id), its path's or type's invariants,
            # ext-1, ref-1 (a local reference); most elements have none of these
            inv.element(node, child, where, inv.root, inv.root, descend=False)  # its children: below
        if not node:
            self.add("structure", "Empty object: an element must have a value or children; omit it instead", where)
            return False
        keys, required = key_plan(path, is_resource)
        checkpoint()  # the request's budget (core.budget)
        holders = self.holders
        has = "extension" in node or "modifierExtension" in node
        for key, value in node.items():
            hit = keys.get(key)
            if hit is not None and hit[7] is not None and type(value) is str:  # the most common value
                try:  # primitive_issue(), inline: the same strings come back
                    message = REMEMBERED[(hit[7], value)]
                except KeyError:
                    message = primitive_issue(hit[7], value)
                if message:
                    self.add("value", message, f"{where}.{key}")
                continue
            if hit is None:
                if key[:1] == "_" and (hit := keys.get(key[1:])) is not None:
                    if self.extension_side(value, node.get(key[1:]), f"{where}.{key}"):
                        has = True
                    if hit[1] == "code" and hit[0].binding:
                        self.valueless_code(value, node.get(key[1:]), hit[0], f"{where}.{key[1:]}")
                elif isinstance(value, (dict, list)) and mark_holders(value, holders):
                    has = True
                continue  # resourceType, or unknown: the schema reports unknown elements
            if value is None:
                self.add("structure", f"{key} is null: JSON null is only allowed inside an array aligned with its "
                         "_element partner; omit the property instead", f"{where}.{key}")
                continue
            kind = hit[3]
            if kind == PLAIN and not isinstance(value, (list, dict)):  # a primitive, not a string (above)
                if not hit[2]:
                    message = primitive_issue(hit[1], value)
                    if message:
                        self.add("value", message, f"{where}.{key}")
                continue
            child = None
            if inv is not None:
                child = hit[6]
                if child is not None and not (kind == COMPLEX and isinstance(value, list) == hit[2]):
                    if isinstance(value, (list, dict)):  # objects this walk does not enter: the invariant walk's
                        inv.children({key: value}, path, where, inv.root, inv.root)
                    child = None
            if not hit[2]:  # not an array
                if kind == COMPLEX and isinstance(value, dict):  # self.value(), inline
                    loc = f"{where}.{key}"
                    if self.complex(value, hit[4], loc, False, child):
                        has = True
                    if hit[5]:
                        self.after_children(value, hit[0], hit[1], loc)
                elif kind == PLAIN:  # an object or a list: check_primitive skips it, as any wrong JSON type
                    message = primitive_issue(hit[1], value)
                    if message:
                        self.add("value", message, f"{where}.{key}")
                    if mark_holders(value, holders):
                        has = True
                elif not isinstance(value, list):
                    if self.value(value, hit, f"{where}.{key}"):
                        has = True
                elif mark_holders(value, holders):
                    has = True
                continue
            if not isinstance(value, list):
                if isinstance(value, dict) and mark_holders(value, holders):
                    has = True
                continue
            if not value:
                self.add("structure", "Empty array: omit the element instead", f"{where}.{key}")
            inside = False  # an extension in one of the items
            for i, item in enumerate(value):
                if item is None:
                    self.null_item(node.get("_" + key), i, key, f"{where}.{key}[{i}]")
                elif kind == PLAIN:
                    message = primitive_issue(hit[1], item)
                    if message:
                        self.add("value", message, f"{where}.{key}[{i}]")
                    elif isinstance(item, (dict, list)) and mark_holders(item, holders):
                        inside = True
                elif kind == COMPLEX and isinstance(item, dict):
                    loc = f"{where}.{key}[{i}]"
                    if self.complex(item, hit[4], loc, False, child):
                        inside = True
                    if hit[5]:
                        self.after_children(item, hit[0], hit[1], loc)
                elif self.value(item, hit, f"{where}.{key}[{i}]"):
                    inside = True
            if inside:
                holders.add(id(value))
                has = True
        if required:
            self.required(node, required, where)
        if has:
            holders.add(id(node))
        return has

    def value(self, value: object, hit: Key, where: str) -> bool:
        """Check one value of an element (a nested resource, a primitive, a complex value); True
        when an extension is in it."""
        element, type_code, kind, children, post = hit[0], hit[1], hit[3], hit[4], hit[5]
        if kind == RESOURCE:
            if isinstance(value, dict):
                self.issues.extend(self.nested(value, where))
            return mark_holders(value, self.holders)  # the nested resource's own walk marks another set
        if kind == PRIMITIVE:
            message = check_primitive(type_code, value)
            if message:
                self.add("value", message, where)

            elif type_code == "xhtml" and isinstance(value, str):
                self.issues.extend(narrative_issues(value, where))
            elif type_code == "canonical" and element.targets and isinstance(value, str):
                self.canonical_target(value, element, where)
            elif type_code == "code" and element.binding and isinstance(value, str):
                message = check_code(value, element.binding)
                if message:
                    self.add("code-invalid", message, where)
            elif type_code == "code" and element.extensible:
                self.extensible(value, element.extensible, type_code, where)
            return mark_holders(value, self.holders)  # an object or a list where a primitive belongs
        if not isinstance(value, dict):
            return mark_holders(value, self.holders)
        has = self.complex(value, children, where)
        if post:
            self.after_children(value, element, type_code, where)
        return has

    def after_children(self, value: dict, element: ElementDef, type_code: str, where: str) -> None:
        """The checks of a complex value that look at it as a whole: reference target, attachment
        size, bindings, a Coding's code."""
        if type_code == "Reference" and element.targets:
            self.reference_target(value, element, where)
        elif type_code == "Attachment" and "size" in value and isinstance(value.get("data"), str):
            self.attachment_size(value, where)

        if element.binding and type_code in BOUND_TYPES:
            message = check_binding(type_code, value, element.binding)
            if message:  # it names the codes allowed: an unknown code of a coding in it is not said twice
                inner = f"{where}.coding["
                self.issues = [i for i in self.issues if not (i.code == "code-invalid" and i.expression
                                                              and i.expression[0].startswith(inner))]
                self.add("code-invalid", message, where)
        elif element.extensible and type_code in BOUND_TYPES:
            self.extensible(value, element.extensible, type_code, where)
        if type_code == "Coding" and not (element.binding and check_binding(type_code, value, element.binding)):
            message = unknown_code(value)
            if message:
                self.add("code-invalid", message, f"{where}.code")

    def extensible(self, value: object, binding: str, type_code: str, where: str) -> None:
        message = check_extensible(type_code, value, binding)
        if message:
            self.issues.append(Issue("code-invalid", message, severity="warning", expression=(where,)))

    def reference_target(self, value: dict, element: ElementDef, where: str) -> None:
        """The referenced type (from ``reference`` or ``type``) is one the element allows."""
        allowed = allowed_targets(element)
        if "Resource" in allowed:
            return
        stated = reference_type(value)
        if stated is not None and stated not in allowed:
            self.add("invalid", f"A reference to a {stated} is not allowed here: {element.path} refers to "
                     f"{', '.join(sorted(allowed))}", where)

    def canonical_target(self, value: str, element: ElementDef, where: str) -> None:
        """A canonical the server knows names a resource of a type the element allows."""
        allowed = set(element.targets)
        if "Resource" in allowed:
            return
        kinds = canonical_types(value)
        if kinds is None or kinds & allowed:
            return
        # a CodeSystem url where a ValueSet is expected: R4 itself binds ExplanationOfBenefit's
        # priority that way (its "all codes" value set is meant): a warning
        severity = "warning" if kinds == {"CodeSystem"} and "ValueSet" in allowed else "error"
        self.issues.append(Issue("invalid", f"Canonical '{value}' names a {', '.join(sorted(kinds))}; "
                                 f"{element.path} names {', '.join(sorted(allowed))}", severity=severity,
                                 expression=(where,)))

    def attachment_size(self, value: dict, where: str) -> None:
        size = value["size"]
        data = _WHITESPACE.sub("", value["data"])
        if not isinstance(size, int) or isinstance(size, bool) or len(data) % 4:
            return  # the type errors are reported elsewhere
        actual = len(data) // 4 * 3 - data[-2:].count("=")
        if size != actual:
            self.add("invalid", f"Attachment.size is {size} but the data is {actual} bytes", f"{where}.size")

    def extension_side(self, value: object, primitive: object, where: str) -> bool:
        """``_given`` / ``_birthDate``: Element content (id, extension) for primitive values; ele-1
        holds for the primitive element: a value, or children other than the id.  The base
        invariant walk does not enter these (``invariants.ele_1`` is checked here).  True when an
        extension is in it."""
        invariants, self.inv = self.inv, None
        try:
            return self._extension_side(value, primitive, where)
        finally:
            self.inv = invariants

    def _extension_side(self, value: object, primitive: object, where: str) -> bool:
        if isinstance(value, dict):
            has = self.complex(value, "Element", where)
            if primitive is None:
                self.ele_1(value, where)
            return has
        if not isinstance(value, list):
            return False
        aligned = isinstance(primitive, list) and len(primitive) == len(value)
        if isinstance(primitive, list) and not aligned:
            self.add("structure", f"{len(value)} entries here but {len(primitive)} values: "
                     "the _element array must line up with the value array (use null to skip)", where)
        inside = False
        for i, item in enumerate(value):
            if isinstance(item, dict):
                if self.complex(item, "Element", f"{where}[{i}]"):
                    inside = True
                if aligned and primitive[i] is None:  # type: ignore[index]
                    self.ele_1(item, f"{where}[{i}]")
            elif isinstance(item, list) and mark_holders(item, self.holders):
                inside = True
        if inside:
            self.holders.add(id(value))
        return inside

    def valueless_code(self, side: object, primitive: object, element: ElementDef, where: str) -> None:
        """A ``code`` with a required binding whose value is declared absent (``_category`` with a
        data-absent-reason and no ``category``): the binding asks for a code from its value set, and
        an absent code is none (terminologies.html#required; the reference validator and the
        Firely SDK both refuse it: fhir-test-cases ``allergy``).  An element that may be absent is
        omitted instead.  Other extensions without a value (a cross-version extension carrying a
        code of a later release) are left alone."""
        if isinstance(side, dict) and primitive is None:
            absent = [(where, side)]
        elif isinstance(side, list):
            values = primitive if isinstance(primitive, list) else []
            absent = [(f"{where}[{i}]", item) for i, item in enumerate(side)
                      if isinstance(item, dict) and (i >= len(values) or values[i] is None)]
        else:
            absent = []
        for loc, item in absent:
            extensions = item.get("extension")
            if isinstance(extensions, list) and any(isinstance(e, dict) and e.get("url") == DATA_ABSENT_REASON
                                                    for e in extensions):
                self.add("code-invalid", f"No code given, and {element.path} requires a code from the value set "
                         f"{(element.binding or '').split('|')[0]}: a data-absent-reason is not a code; omit the "
                         "element instead", loc)

    def ele_1(self, element: dict, where: str) -> None:
        if element and all(k == "id" for k in element):
            self.issues.append(Issue("invariant", "Constraint ele-1 failed: a primitive element with neither a "
                                     "value nor extensions (only an id) is empty; omit it instead",
                                     expression=(where,)))

    def null_item(self, partner: object, i: int, key: str, where: str) -> None:
        ok = isinstance(partner, list) and i < len(partner) and partner[i] is not None
        if not ok:
            self.add("structure", f"null in {key} is only allowed when _{key}[{i}] carries an id or extension", where)

    def required(self, node: dict, required: tuple[tuple[str, tuple[str, ...]], ...], where: str) -> None:
        present = node.keys()
        for name, keys in required:
            if present.isdisjoint(keys):
                example = keys[0] if len(keys) <= 2 else f"one of {', '.join(keys[: len(keys) // 2][:5])}"
                self.add("required", f"Missing required element {name!r} (minimum cardinality 1): add {example}",
                         f"{where}.{name}")


def walk(resource: dict, resource_type: str, base: str, nested: Nested,
         invariants: InvariantWalker | None = None, holders: set[int] | None = None) -> list[Issue]:
    """The issues of ``resource``; with ``invariants`` (an :class:`InvariantWalker` of ``resource``),
    its base invariants too, into ``invariants.issues``, in the order of their own walk; with
    ``holders``, the ids of :func:`.core_extensions.extension_holders` of ``resource`` into it."""
    walker = Walker(nested, invariants, holders)
    if invariants is not None:
        invariants.resource_own(resource, resource_type, base, resource)
    walker.complex(resource, resource_type, base, is_resource=True)
    if invariants is not None:
        invariants.done = True
    return walker.issues
