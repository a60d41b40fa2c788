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

What the walk asks of each snapshot node, and which kids an object with given keys names, is
worked out once (:mod:`.node_plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from fhir_server.core.errors import Issue
from fhir_server.core.references import parse_reference
from fhir_server.definitions.structures import INLINE_TYPES
from fhir_server.validation.conformance import JIAYI, Conformance, UnknownProfile, base_type, canonical
from fhir_server.validation.invariants import holds
from fhir_server.validation.node_plan import EXTENSIONS, Item, NodePlan, plan_of
from fhir_server.validation.paths import shown
from fhir_server.validation.slicing import contains
from fhir_server.validation.snapshot import Node

Resolver = Callable[[str], dict | None]  # reference string → resource (same Bundle, supplied)
MAX_DEPTH = 3


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
        if plan.checks:
            self.value_checks(value, node, type_code, where, plan)
        if plan.descend and isinstance(value, dict):
            self.children(value, node, type_code, where, plan)

    def children(self, obj: dict, node: Node, type_code: str, where: str, plan: NodePlan) -> None:
        shape = plan.shapes.get(keys := tuple(obj))
        for kid, found, single in shape if shape is not None else plan.shape(keys, self.conformance):
            child = kid.node
            if single is not None:  # one key without its _key partner: _items(), inline
                value = obj[single]
                if isinstance(value, list):
                    code, loc = found[0][1], f"{where}.{single}"
                    items = [(code, item, f"{loc}[{i}]") for i, item in enumerate(value)]
                else:
                    items = [(found[0][1], value, f"{where}.{single}")]
            else:
                items = _items(obj, found, where) if found else []
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
            checks = plan_.checks
            for code, value, loc in items:  # self.element(), inline
                if checks and value is not None:
                    self.value_checks(value, child, code, loc, plan_)
                if plan_.descend and isinstance(value, dict):
                    self.children(value, child, code, loc, plan_)

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
        by_url = plan.by_url
        for code, value, where in items:
            url = value.get("url") if by_url is not None and isinstance(value, dict) else None
            if by_url is not None and isinstance(url, str):  # what the url matchers would say, in one look-up
                hit = by_url.get(url)
            else:
                hit = next((s for s, match in plan.slicers
                            if match(value, code, self._resolve_item, self.conforms)), None)
            if hit is None:
                self.unsliced(node, code, value, where, host_path, host_type)
                continue
            counts[id(hit)] += 1
            if plan.checks:
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
        if isinstance(ref, str):  # _resolve_item(), inline for the common case
            target = self.resolve_ref(ref) if ref[:1] != "#" else self._resolve_item(value)
        else:
            target = None
        actual = target.get("resourceType") if target else value.get("type")
        if actual is None and isinstance(ref, str):
            actual = _named_type(ref) if len(ref) <= 256 else _named_type.__wrapped__(ref)
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
        for code, url, known in plan.type_profiles:
            if code != type_code:
                continue
            if not known:  # Conformance.compiled would raise UnknownProfile
                self.add("not-supported", f"Profile {url} (required by {node.shown}) is not known here; "
                         "it was not checked", where, "warning")
                continue
            profile = self.conformance.compiled(url)
            if profile is not None:
                self.element(value, profile, type_code, where)

    def invariants(self, value: object, node: Node, type_code: str, where: str, plan: NodePlan) -> None:
        inline = type_code in INLINE_TYPES or "." not in node.path or not type_code
        base = node.path if inline else type_code
        for inv, native, fast in plan.invariants:
            result = native(value) if native is not None else None
            if result is None and fast is not None:
                result = fast(value, self.resource, self.root)
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
        contexts, anywhere = self.conformance.contexts(sd)
        if anywhere or host_path in contexts or host_type in contexts:
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


@lru_cache(maxsize=8192)
def _named_type(ref: str) -> str | None:
    """The type a RESTful reference string names (remembered: the same references come back)."""
    parsed = parse_reference(ref)
    return parsed.res_type if parsed else None


def _items(obj: dict, found: tuple[tuple[str, str], ...], where: str) -> list[Item]:
    """The values of one kid of ``obj``: (type code, value, location) for each (key, type code) of
    its shape; an array (or its ``_key`` partner) gives one item per index."""
    out: list[Item] = []
    for key, code in found:
        value, partner = obj.get(key), obj.get("_" + key)
        if isinstance(value, list) or isinstance(partner, list):
            values = value if isinstance(value, list) else []
            partners = partner if isinstance(partner, list) else []
            for i in range(max(len(values), len(partners))):
                out.append((code, values[i] if i < len(values) else None, f"{where}.{key}[{i}]"))
        else:
            out.append((code, value, f"{where}.{key}"))
    return out


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
