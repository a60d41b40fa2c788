"""Validation of an instance against a profile's snapshot (FHIR R4 profiling.html, validation.html).

Driven only by the compiled StructureDefinition (:mod:`.snapshot`), never by code per profile.
For each element of the snapshot it checks, where the profile says so:

- cardinality the profile tightens (``required`` / ``structure``), on elements and slices;
- the allowed types of a choice element (``structure``);
- ``fixed[x]`` (exactly equal) and ``pattern[x]`` (contains) values (``value``);
- slicing (:mod:`.slicing`): every item is put in its slice, slice cardinality, closed
  slicing refuses unmatched items (``structure``);
- required bindings (``code-invalid`` error), extensible ones (``code-invalid`` warning);
- reference targets: the referenced type from the reference string (or ``type``), and the
  target's profile when the target is contained, in the same Bundle or supplied;
- extensions: the extension's own StructureDefinition (looked up by url: context, value
  type, nested extensions), unknown Jiayi extensions;
- FHIRPath invariants the profile adds (``invariant``; the base ones run in
  :mod:`.base_invariants`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from fhir_server.core.errors import Issue
from fhir_server.core.references import parse_reference
from fhir_server.definitions.structures import INLINE_TYPES, structures
from fhir_server.validation.conformance import JIAYI, Conformance, UnknownProfile, base_type, canonical
from fhir_server.validation.invariant_compiler import compile_invariant
from fhir_server.validation.invariants import base_keys, holds
from fhir_server.validation.native_invariants import NATIVE_EXPRESSIONS
from fhir_server.validation.paths import shown
from fhir_server.validation.slicing import Matcher, compile_matcher, contains
from fhir_server.validation.snapshot import Discriminator, Node

Resolver = Callable[[str], dict | None]  # reference string → resource (same Bundle, supplied)
URL_DISCRIMINATOR = (Discriminator("value", "url"),)
EXTENSIONS = ("extension", "modifierExtension")
CONTEXT_ANY = frozenset({"Element", "Resource", "DomainResource", "BackboneElement"})
MAX_DEPTH = 3


def _type_from_suffix(suffix: str) -> str:
    """``valueQuantity`` → ``Quantity``; ``valueDateTime`` → ``dateTime``."""
    registry = structures()
    if registry.kind(suffix) is not None:
        return suffix
    lowered = suffix[0].lower() + suffix[1:]
    return lowered if registry.kind(lowered) is not None else suffix


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
    __slots__ = ("node", "name", "partner", "choice", "code", "card", "absent", "sliced")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.name = node.name
        self.partner = "_" + node.name
        self.choice = node.name.endswith("[x]")
        self.code = "" if self.choice else (node.types[0].code if node.types else base_element_type(node.path))
        # cardinality() can only say something when the profile tightens min or max
        self.card = node.min > node.base_min or (
            node.max is not None and (node.base_max is None or node.max < node.base_max))
        # an absent element matters only when it is required or has a required slice
        self.absent = (node.min > 0 and node.min > node.base_min) or any(s.min > 0 for s in node.slices)
        self.sliced = bool(node.slices) or node.name in EXTENSIONS


class NodePlan:
    """What :class:`ProfileCheck` derives from one snapshot node, once per node (issue 19): its
    children, which value checks apply at all, the reference targets, the invariants with their
    compiled checks, and the slices with their discriminators compiled."""
    __slots__ = ("kids", "by_key", "always", "descend", "choice_codes", "values", "binding", "ref_targets",
                 "ref_allowed", "ref_profiled", "type_profiles", "invariants", "slicers", "discriminators")

    def __init__(self, node: Node, conformance: Conformance) -> None:
        self.kids = tuple(Kid(child) for child in node.all_children().values())
        # the kids an instance's keys name (the others are looked at only when a choice or required)
        self.by_key: dict[str, int] = {}
        for i, kid in enumerate(self.kids):
            if not kid.choice:
                self.by_key.setdefault(kid.name, i)
                self.by_key.setdefault(kid.partner, i)
        self.always = frozenset(i for i, kid in enumerate(self.kids) if kid.choice or kid.absent)
        self.descend = bool(node.children) or node.sliced is not None
        self.choice_codes = node.type_codes if node.types and node.name.endswith("[x]") else None
        self.binding = node.binding if node.binding is not None and node.binding[0] in ("required", "extensible") \
            else None
        targets = tuple(p for t in node.types if t.code == "Reference" for p in t.target_profiles)
        allowed = {conformance.type_of(p) for p in targets}
        checked = bool(targets) and None not in allowed and "Resource" not in allowed
        self.ref_targets = targets if checked else None
        self.ref_allowed = frozenset(a for a in allowed if a) if checked else frozenset()
        self.ref_profiled = tuple((p, conformance.type_of(p)) for p in targets if base_type(p) is None)
        self.type_profiles = tuple((t.code, url) for t in node.types if t.profiles and t.code != "Extension"
                                   for url in t.profiles if base_type(url) is None)
        skip = base_keys()
        if node.sliced is not None:  # a snapshot repeats the sliced element's invariants on each slice
            skip = skip | {i.key for i in node.sliced.invariants}
        own = tuple(i for i in node.invariants if i.key not in skip)
        node.own_invariants = own
        invariants = []
        for inv in own:
            native = NATIVE_EXPRESSIONS.get(inv.expression)
            fast = compile_invariant(inv.expression) if inv.evaluable and native is None else None
            invariants.append((inv, native, fast))
        self.invariants = tuple(invariants)
        self.values = bool(node.fixed is not None or node.pattern is not None or self.binding or self.ref_targets
                           or self.type_profiles or self.invariants)
        self.discriminators = node.slicing.discriminators if node.slicing and node.slicing.discriminators \
            else URL_DISCRIMINATOR
        self.slicers: tuple[tuple[Node, Matcher], ...] = tuple(
            (s, compile_matcher(s, self.discriminators)) for s in node.slices)


def plan_of(node: Node, conformance: Conformance) -> NodePlan:
    plan: NodePlan | None = node.plan
    if plan is None:
        plan = node.plan = NodePlan(node, conformance)
    return plan


class ProfileCheck:
    def __init__(self, conformance: Conformance, resolve: Resolver, depth: int = 0,
                 checked: set[tuple[int, str, str, str]] | None = None) -> None:
        self.conformance = conformance
        self.resolve_ref = resolve
        self.depth = depth
        # extensions already checked by another walk over the same resource (Validator.validate:
        # the profile walk, then the walk over every extension), whose issues are reported once
        self.checked = checked
        self.issues: list[Issue] = []
        self.resource: dict = {}
        self.root: dict = {}
        self._conforms: dict[tuple[int, str], bool] = {}

    def add(self, code: str, message: str, where: str, severity: str = "error") -> None:
        self.issues.append(Issue(code, message, severity=severity, expression=(where,)))

    # -- the walk ---------------------------------------------------------------------------
    def run(self, resource: dict, root_node: Node, where: str, container: dict | None = None) -> list[Issue]:
        self.resource, self.root = resource, container or resource
        self.element(resource, root_node, str(resource.get("resourceType")), where)
        return self.issues

    def element(self, value: object, node: Node, type_code: str, where: str) -> None:
        plan = plan_of(node, self.conformance)
        self.value_checks(value, node, type_code, where, plan)
        if plan.descend and isinstance(value, dict):
            self.children(value, node, type_code, where, plan)

    def children(self, obj: dict, node: Node, type_code: str, where: str, plan: NodePlan) -> None:
        kids = plan.kids
        if len(kids) > 2 * len(obj):  # most of the profile's elements are absent: visit those present
            by_key = plan.by_key
            wanted = set(plan.always)
            for key in obj:
                i = by_key.get(key)
                if i is not None:
                    wanted.add(i)
            kids = tuple(kids[i] for i in sorted(wanted))
        for kid in kids:
            child = kid.node
            if kid.choice:
                items = self.items(obj, child, where)
            elif kid.name in obj or kid.partner in obj:
                items = self._items(obj, kid.name, kid.code, where)
            else:
                items = []
            if not items:
                if kid.absent:
                    self.cardinality(child, 0, where)
                    if child.slices:
                        self.sliced(child, items, node.path, type_code, where)
                continue
            if kid.card:
                self.cardinality(child, len(items), where)
            if kid.sliced:
                self.sliced(child, items, node.path, type_code, where)
                continue
            plan_: NodePlan = child.plan if child.plan is not None else plan_of(child, self.conformance)
            checks = plan_.values or plan_.choice_codes is not None
            for code, value, loc in items:  # self.element(), inline
                if checks and value is not None:
                    self.value_checks(value, child, code, loc, plan_)
                if plan_.descend and isinstance(value, dict):
                    self.children(value, child, code, loc, plan_)

    @staticmethod
    def _items(obj: dict, key: str, code: str, where: str) -> list[Item]:
        """:meth:`items` of a present element that is not a choice."""
        value, partner = obj.get(key), obj.get("_" + key)
        if isinstance(value, list) or isinstance(partner, list):
            values = value if isinstance(value, list) else []
            partners = partner if isinstance(partner, list) else []
            return [(code, values[i] if i < len(values) else None, f"{where}.{key}[{i}]")
                    for i in range(max(len(values), len(partners)))]
        return [(code, value, f"{where}.{key}")]

    def items(self, obj: dict, child: Node, where: str) -> list[Item]:
        name = child.name
        if name.endswith("[x]"):
            base = name[:-3]
            keys = [(k, _type_from_suffix(k[len(base):])) for k in obj
                    if k.startswith(base) and k[len(base):][:1].isupper()]
            keys += [(k[1:], _type_from_suffix(k[1 + len(base):])) for k in obj
                     if k.startswith("_" + base) and k[1 + len(base):][:1].isupper() and k[1:] not in obj]
        else:
            code = child.types[0].code if child.types else base_element_type(child.path)
            keys = [(name, code)] if name in obj or "_" + name in obj else []
        out: list[Item] = []
        for key, code in keys:
            value, partner = obj.get(key), obj.get("_" + key)
            if isinstance(value, list) or isinstance(partner, list):
                values = value if isinstance(value, list) else []
                partners = partner if isinstance(partner, list) else []
                for i in range(max(len(values), len(partners))):
                    out.append((code, values[i] if i < len(values) else None, f"{where}.{key}[{i}]"))
            else:
                out.append((code, value, f"{where}.{key}"))
        return out

    def cardinality(self, node: Node, count: int, where: str) -> None:
        name = node.name.removesuffix("[x]")
        loc = f"{where}.{name}"
        if count < node.min and node.min > node.base_min:
            self.add("required", f"Missing {node.shown}: this profile requires at least {node.min}, found {count}", loc)
        if node.max is not None and count > node.max and (node.base_max is None or node.max < node.base_max):
            what = "is not allowed by this profile" if node.max == 0 else f"allows at most {node.max}"
            self.add("structure", f"{node.shown} {what}, found {count}", loc)

    def sliced(self, node: Node, items: list[Item], host_path: str, host_type: str, parent: str) -> None:
        plan = plan_of(node, self.conformance)
        counts = {id(s): 0 for s in node.slices}
        for code, value, where in items:
            hit = next((s for s, match in plan.slicers
                        if match(value, code, self._resolve_item, self.conforms)), None)
            if hit is None:
                self.unsliced(node, code, value, where, host_path, host_type)
                continue
            counts[id(hit)] += 1
            self.value_checks(value, node, code, where, plan)
            self.element(value, hit, code, where)
            if node.name in EXTENSIONS and isinstance(value, dict):
                self.free_extension(value, where, host_path, host_type)
        loc = items[0][2].rsplit("[", 1)[0] if items else f"{parent}.{node.name.removesuffix('[x]')}"
        for s in node.slices:
            n = counts[id(s)]
            if n < s.min:
                self.add("required", f"Missing slice {s.shown}: this profile requires at least {s.min}, found {n}", loc)
            if s.max is not None and n > s.max:
                self.add("structure", f"Slice {s.shown} allows at most {s.max}, found {n}", loc)

    def unsliced(self, node: Node, code: str, value: object, where: str, host_path: str, host_type: str) -> None:
        if node.slicing is not None and node.slicing.rules == "closed":
            names = ", ".join(s.slice_name or "" for s in node.slices)
            self.add("structure", f"This item matches no slice of {node.shown}, and the slicing is closed "
                     f"(allowed: {names})", where)
        self.element(value, node, code, where)
        if node.name in EXTENSIONS and isinstance(value, dict):
            self.free_extension(value, where, host_path, host_type)

    # -- the checks on one value ------------------------------------------------------------
    def value_checks(self, value: object, node: Node, type_code: str, where: str, plan: NodePlan | None = None) -> None:
        if value is None:
            return
        if plan is None:
            plan = plan_of(node, self.conformance)
        if plan.choice_codes is not None and type_code and type_code not in plan.choice_codes:
            self.add("structure", f"Type {type_code} is not allowed for {node.shown} in this profile; "
                     f"use {' or '.join(node.type_codes)}", where)
            return
        if not plan.values:
            return
        if node.fixed is not None and value != node.fixed[1]:
            self.add("value", f"{node.shown} must be exactly {shown(node.fixed[1])} in this profile, "
                     f"got {shown(value)}", where)
        if node.pattern is not None and not contains(node.pattern[1], value):
            self.add("value", f"{node.shown} must match the pattern {_render(node.pattern[1])} of this profile, "
                     f"got {_render(value)}", where)
        if plan.binding is not None:
            self.binding(value, node, type_code, where)
        if plan.ref_targets is not None and type_code == "Reference" and isinstance(value, dict):
            self.reference(value, node, where, plan)
        if plan.type_profiles and isinstance(value, dict):
            self.type_profiles(value, node, type_code, where, plan)
        if plan.invariants:
            self.invariants(value, node, type_code, where, plan)

    def binding(self, value: object, node: Node, type_code: str, where: str) -> None:
        strength, url = node.binding  # type: ignore[misc]
        if strength not in ("required", "extensible"):
            return
        expansion = self.conformance.value_sets.codes(url)
        if expansion is None:
            return  # cannot be expanded here: not checked (never a false error)
        codings = _codings(value, type_code)
        if codings is None:
            return
        if not codings:
            if strength == "required" and type_code == "CodeableConcept":
                self.add("code-invalid", f"{node.shown} needs a coding from the required value set "
                         f"{canonical(url)} (text alone is not enough)", where)
            return
        if any(_member(system, code, expansion) for system, code in codings):
            return
        got = ", ".join(f"{s}|{c}" if s else str(c) for s, c in codings)
        allowed = "; ".join(f"{s}: {', '.join(sorted(c)[:12])}" for s, c in expansion.items())
        severity = "error" if strength == "required" else "warning"
        self.add("code-invalid", f"{got} is not in the {strength} value set {canonical(url)} of {node.shown}"
                 f" (allowed: {allowed})", where, severity)

    def reference(self, value: dict, node: Node, where: str, plan: NodePlan) -> None:
        allowed = plan.ref_allowed
        ref = value.get("reference")
        target = self._resolve_item(value)
        actual = target.get("resourceType") if target else value.get("type")
        if actual is None and isinstance(ref, str):
            parsed = parse_reference(ref)
            actual = parsed.res_type if parsed else None
        if actual is None:
            return  # an identifier-only or display-only reference: nothing to check
        if actual not in allowed:
            self.add("structure", f"{node.shown} must refer to {' or '.join(sorted(allowed))}, "
                     f"not to a {actual} ({shown(ref)})", where)
            return
        if target is None:
            return
        profiled = [p for p, kind in plan.ref_profiled if kind == actual]
        if profiled and not any(self.conforms(target, p) for p in profiled):
            self.add("structure", f"The {actual} that {node.shown} refers to ({shown(ref)}) does not conform to "
                     f"{' or '.join(profiled)}", where)

    def type_profiles(self, value: object, node: Node, type_code: str, where: str, plan: NodePlan) -> None:
        # extension slices are left out of the plan: checked through the slice's own elements and free_extension
        for code, url in plan.type_profiles:
            if code != type_code:
                continue
            try:
                profile = self.conformance.compiled(url)
            except UnknownProfile:
                self.add("not-supported", f"Profile {url} (required by {node.shown}) is not known here; "
                         "it was not checked", where, "warning")
                continue
            if profile is not None:
                self.element(value, profile, type_code, where)

    def invariants(self, value: object, node: Node, type_code: str, where: str, plan: NodePlan) -> None:
        inline = type_code in INLINE_TYPES or "." not in node.path or not type_code
        base = node.path if inline else type_code
        for inv, native, fast in plan.invariants:
            if native is not None:
                result = native(value)
            else:
                result = fast(value, self.resource, self.root) if fast is not None else None
            if result is None:
                result = holds(inv, value, base, self.resource, self.root)
            if result is False:
                severity = "error" if inv.severity == "error" else "warning"
                self.add("invariant", f"Constraint {inv.key} of {node.shown} failed: {inv.human}", where, severity)

    # -- extensions ---------------------------------------------------------------------------
    def free_extension(self, value: dict, where: str, host_path: str, host_type: str) -> None:
        url = value.get("url")
        if not isinstance(url, str):
            return
        if self.checked is not None:
            key = (id(value), where, host_path, host_type)
            if key in self.checked:
                return  # the same check, with the same issues, ran already
            self.checked.add(key)
        sd = self.conformance.extension(url)
        if sd is None:
            if url.startswith(JIAYI):
                self.add("structure", f"Unknown Jiayi extension {url}: no such StructureDefinition in the "
                         "implementation guide (check the spelling of the url)", where)
            return
        self.check_context(sd, where, host_path, host_type)
        root = self.conformance.compiled(sd["url"])
        if root is not None:
            self.element(value, root, "Extension", where)

    def check_context(self, sd: dict, where: str, host_path: str, host_type: str) -> None:
        contexts = [c.get("expression") for c in sd.get("context") or [] if isinstance(c, dict)]
        if not contexts or any(c in CONTEXT_ANY or c in (host_path, host_type) for c in contexts):
            return
        self.add("structure", f"Extension {sd.get('url')} is not allowed on {host_path}: it may only be used on "
                 f"{', '.join(str(c) for c in contexts)}", where)

    # -- resolution ---------------------------------------------------------------------------
    def _resolve_item(self, value: object) -> dict | None:
        if not isinstance(value, dict) or not isinstance(value.get("reference"), str):
            return None
        ref = value["reference"]
        if ref.startswith("#"):
            return next((c for c in self.root.get("contained") or [] if isinstance(c, dict)
                         and c.get("id") == ref[1:]), None)
        return self.resolve_ref(ref)

    def conforms(self, target: object, url: str) -> bool:
        if not isinstance(target, dict):
            return False
        claimed = (target.get("meta") or {}).get("profile") or []
        if url in claimed or canonical(url) in claimed:
            return True
        key = (id(target), url)
        if key not in self._conforms:
            self._conforms[key] = self._check_conforms(target, url)
        return self._conforms[key]

    def _check_conforms(self, target: dict, url: str) -> bool:
        if self.depth >= MAX_DEPTH:
            return True  # deep reference chains are not followed (a cycle must not loop)
        try:
            profile = self.conformance.compiled(url)
        except UnknownProfile:
            return False
        if profile is None:
            return target.get("resourceType") == base_type(url) or url.endswith("/Extension")
        if "resourceType" in target:
            check = ProfileCheck(self.conformance, self.resolve_ref, self.depth + 1)
            return not any(i.is_error for i in check.run(target, profile, str(target["resourceType"])))
        check = ProfileCheck(self.conformance, self.resolve_ref, self.depth + 1)
        check.resource, check.root = self.resource, self.root
        check.element(target, profile, profile.types[0].code if profile.types else "", "$this")
        return not any(i.is_error for i in check.issues)


def _codings(value: object, type_code: str) -> list[tuple[str | None, object]] | None:
    """(system, code) pairs of a bindable value; None when it is not a bindable shape."""
    if type_code in ("code", "string", "uri") and isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return None
    if type_code == "CodeableConcept":
        codings = value.get("coding")
        return [_pair(c) for c in codings if isinstance(c, dict) and "code" in c] if isinstance(codings, list) else []
    if type_code in ("Coding", "Quantity") and "code" in value:
        return [_pair(value)]
    return None


def _pair(coding: dict) -> tuple[str | None, object]:
    system = coding.get("system")
    return (system if isinstance(system, str) else None, coding.get("code"))


def _member(system: str | None, code: object, expansion: dict[str, frozenset[str]]) -> bool:
    if not isinstance(code, str):
        return True  # a code of the wrong JSON type is reported by the base pass
    if system is None:
        return any(code in codes for codes in expansion.values())
    return code in expansion.get(system, frozenset())


def _render(value: object) -> str:
    import json
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."
