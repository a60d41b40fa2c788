"""What the profile walk (:mod:`.profile`) derives from a snapshot node, once per node (issue 19):
its children with what each can ask, which value checks apply at all, reference targets, type
profiles, the profile's invariants compiled, the slices' discriminators compiled, and the shapes of
the instance objects met so far (which kids an object with these keys asks about)."""

from __future__ import annotations

from functools import cache

from fhir_server.definitions.structures import structures
from fhir_server.validation.conformance import Conformance, base_type
from fhir_server.validation.invariant_compiler import compile_invariant
from fhir_server.validation.invariants import base_keys
from fhir_server.validation.native_invariants import NATIVE_EXPRESSIONS
from fhir_server.validation.slicing import Matcher, compile_matcher, url_index
from fhir_server.validation.snapshot import Discriminator, Node

URL_DISCRIMINATOR = (Discriminator("value", "url"),)
EXTENSIONS = ("extension", "modifierExtension")
MAX_SHAPES = 64


@cache
def base_element_type(path: str) -> str:
    """The R4 type of a non-choice element path (``Patient.identifier.system`` → ``uri``), or ''."""
    registry = structures()
    parts = path.split(".")
    current, type_code = parts[0], parts[0]
    for name in parts[1:]:
        element = registry.children(current).get(name)
        if element is None or not element.types:
            return ""
        type_code = element.types[0]
        current = element.children_path(type_code)
    return type_code


Item = tuple[str, object, str]  # (type code, JSON value or None, location)


class Kid:
    """A child element of a node, with what the walk asks of it worked out once."""
    __slots__ = ("node", "name", "partner", "choice", "base", "code", "card", "absent", "sliced")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.name = node.name
        self.partner = "_" + node.name
        self.choice = node.name.endswith("[x]")
        self.base = node.name[:-3] if self.choice else node.name  # a choice's keys start with it
        self.code = "" if self.choice else (node.types[0].code if node.types else base_element_type(node.path))
        # cardinality() can only say something when the profile tightens min or max
        self.card = node.min > node.base_min or (
            node.max is not None and (node.base_max is None or node.max < node.base_max))
        # an absent element matters only when it is required or has a required slice
        self.absent = (node.min > 0 and node.min > node.base_min) or any(s.min > 0 for s in node.slices)
        self.sliced = bool(node.slices) or node.name in EXTENSIONS


# the kids an object asks about, each with the (key, type code) pairs that hold its values and, when
# that is one key without its _key partner, the key (its value is one item, or an array's items)
Shape = tuple[tuple["Kid", tuple[tuple[str, str], ...], str | None], ...]


class NodePlan:
    """What :class:`ProfileCheck` derives from one snapshot node, once per node (issue 19): its
    children, which value checks apply at all, the reference targets, the invariants with their
    compiled checks, and the slices with their discriminators compiled."""
    __slots__ = ("kids", "shapes", "descend", "checks", "choice_codes", "values", "binding", "ref_targets",
                 "ref_allowed", "ref_profiled", "type_profiles", "invariants", "slicers", "discriminators", "by_url")

    def __init__(self, node: Node, conformance: Conformance) -> None:
        self.kids = tuple(Kid(child) for child in node.all_children().values())
        self.shapes: dict[tuple[str, ...], Shape] = {}  # by the keys of an instance's object: see shape()
        self.descend = bool(self.kids)  # its own children or, for a slice, the sliced element's
        self.choice_codes = node.type_codes if node.types and node.name.endswith("[x]") else None
        self.binding = node.binding if node.binding is not None and node.binding[0] in ("required", "extensible") \
            else None
        targets = tuple(p for t in node.types if t.code == "Reference" for p in t.target_profiles)
        allowed = {conformance.type_of(p) for p in targets}
        checked = bool(targets) and None not in allowed and "Resource" not in allowed
        self.ref_targets = targets if checked else None
        self.ref_allowed = frozenset(a for a in allowed if a) if checked else frozenset()
        self.ref_profiled = tuple((p, conformance.type_of(p)) for p in targets if base_type(p) is None)
        self.type_profiles = tuple((t.code, url, conformance.knows(url)) for t in node.types
                                   if t.profiles and t.code != "Extension" for url in t.profiles
                                   if base_type(url) is None)
        skip = base_keys()
        if node.sliced is not None:  # a snapshot repeats the sliced element's invariants on each slice
            skip = skip | {i.key for i in node.sliced.invariants}
        own = tuple(i for i in node.invariants if i.key not in skip)
        node.own_invariants = own
        invariants = []
        for inv in own:
            native = NATIVE_EXPRESSIONS.get(inv.expression)
            fast = compile_invariant(inv.expression) if inv.evaluable else None  # when native cannot say
            invariants.append((inv, native, fast))
        self.invariants = tuple(invariants)
        self.values = bool(node.fixed is not None or node.pattern is not None or self.binding or self.ref_targets
                           or self.type_profiles or self.invariants)
        self.checks = self.values or self.choice_codes is not None  # ProfileCheck.value_checks has work
        self.discriminators = node.slicing.discriminators if node.slicing and node.slicing.discriminators \
            else URL_DISCRIMINATOR
        self.slicers: tuple[tuple[Node, Matcher], ...] = tuple(
            (s, compile_matcher(s, self.discriminators)) for s in node.slices)
        self.by_url = url_index(node.slices, self.discriminators) if node.slices else None

    def shape(self, keys: tuple[str, ...], conformance: Conformance) -> Shape:
        """The kids an object with these ``keys`` (in this order) asks about, in the snapshot's
        order, each with the keys that hold its values and their type codes (and the key alone when
        it is one without its ``_key`` partner): a kid named by a key,
        a choice whose keys are there (``valueQuantity`` → Quantity, also ``_valueDate`` alone),
        and an absent kid the profile requires; not a kid about which the walk has nothing to ask
        (:func:`idle`).  The same few shapes come back in every resource of a kind: each is worked
        out once (at most :data:`MAX_SHAPES` per node)."""
        hit = self.shapes.get(keys)
        if hit is not None:
            return hit
        present = set(keys)
        out = []
        for kid in self.kids:
            if kid.choice:
                found = _choice_keys(kid.base, keys, present)
            elif kid.name in present or kid.partner in present:
                found = ((kid.name, kid.code),)
            else:
                found = ()
            if (found and not idle(kid, conformance)) or kid.absent:
                single = found[0][0] if len(found) == 1 and found[0][0] in present \
                    and "_" + found[0][0] not in present else None
                out.append((kid, found, single))
        shape = tuple(out)
        if len(self.shapes) < MAX_SHAPES:
            self.shapes[keys] = shape
        return shape


def idle(kid: Kid, conformance: Conformance) -> bool:
    """Nothing to check on this kid's values or inside them: no cardinality the profile tightens,
    no slices or extensions, no value checks, no children in the snapshot."""
    if kid.card or kid.sliced or kid.choice:
        return False
    plan = plan_of(kid.node, conformance)
    return not (plan.values or plan.choice_codes is not None or plan.descend)


def _choice_keys(base: str, keys: tuple[str, ...], present: set[str]) -> tuple[tuple[str, str], ...]:
    n = len(base)
    found = [(k, _type_from_suffix(k[n:])) for k in keys if k.startswith(base) and k[n:][:1].isupper()]
    found += [(k[1:], _type_from_suffix(k[1 + n:])) for k in keys
              if k.startswith("_" + base) and k[1 + n:][:1].isupper() and k[1:] not in present]
    return tuple(found)


def _type_from_suffix(suffix: str) -> str:
    """``valueQuantity`` → ``Quantity``; ``valueDateTime`` → ``dateTime``."""
    registry = structures()
    if registry.kind(suffix) is not None:
        return suffix
    lowered = suffix[0].lower() + suffix[1:]
    return lowered if registry.kind(lowered) is not None else suffix


def plan_of(node: Node, conformance: Conformance) -> NodePlan:
    plan: NodePlan | None = node.plan
    if plan is None:
        plan = node.plan = NodePlan(node, conformance)
    return plan
