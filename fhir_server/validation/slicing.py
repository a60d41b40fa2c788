"""Which slice an element belongs to (FHIR R4 profiling.html §5.1.0.5 "Discriminator").

Supported discriminator types: ``value`` and ``pattern`` (the fixed or pattern value the slice
sets at the discriminator path; for extensions sliced by ``url`` the slice's extension
profile), ``exists`` (the slice requires or forbids the path), ``type`` (the JSON type suffix
of a choice element, or the resourceType of a resource) and ``profile`` (the item conforms to
the slice's type profile).  Paths: ``$this``, dotted element names (``system``,
``coding.code``), ``extension('url')`` and ``resolve()`` (through the context's resolver).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from fhir_server.validation.snapshot import Discriminator, Node

EXTENSION_CALL = re.compile(r"extension\('([^']*)'\)")
Conforms = Callable[[object, str], bool]  # (item, profile url) → does it conform?
Resolve = Callable[[object], dict | None]  # a Reference → the resource, when it can be found


@cache
def _split(path: str) -> tuple[str, ...]:
    return tuple(p for p in re.split(r"\.(?![^(]*\))", path) if p and p != "$this")


def navigate(item: object, path: str, resolve: Resolve) -> list[object]:
    """The values at ``path`` below ``item`` (FHIRPath-like: collections flatten)."""
    values = [item]
    for step in _split(path):
        out: list[object] = []
        for v in values:
            if not isinstance(v, dict):
                continue
            if step == "resolve()":
                target = resolve(v)
                if target is not None:
                    out.append(target)
                continue
            ext = EXTENSION_CALL.fullmatch(step)
            if ext:
                out += [e for e in _list(v.get("extension")) if isinstance(e, dict) and e.get("url") == ext[1]]
                continue
            hit = v.get(step)
            if hit is None:
                hit = next((val for k, val in v.items() if k.startswith(step) and k[len(step):][:1].isupper()), None)
            if hit is not None:
                out += hit if isinstance(hit, list) else [hit]
        values = out
    return values


def definition_at(slice_node: Node, path: str) -> Node | None:
    node: Node | None = slice_node
    for step in _split(path):
        if node is None:
            return None
        if step == "resolve()":
            return node  # target profiles of the Reference at hand
        ext = EXTENSION_CALL.fullmatch(step)
        if ext:
            sliced = node.child("extension")
            node = next((s for s in (sliced.slices if sliced else ()) if _extension_url(s) == ext[1]), None)
            continue
        node = node.child(step) or node.child(step + "[x]")
    return node


def _extension_url(node: Node) -> str | None:
    if node.extension_url:
        return node.extension_url
    url = node.child("url")
    if url is not None and url.fixed is not None:
        return str(url.fixed[1])
    for t in node.types:
        if t.code == "Extension" and t.profiles:
            return t.profiles[0].split("|")[0]
    return None


def contains(pattern: object, value: object) -> bool:
    """pattern[x] semantics: every property of the pattern is in the value (arrays: each item somewhere)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(contains(p, value.get(k)) for k, p in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(contains(p, v) for v in value) for p in pattern)
    return pattern == value


def matches(item: object, json_type: str, slice_node: Node, discriminators: tuple[Discriminator, ...],
            resolve: Resolve, conforms: Conforms) -> bool:
    return all(_one(item, json_type, slice_node, d, resolve, conforms) for d in discriminators)


Matcher = Callable[[object, str, Resolve, Conforms], bool]  # (item, JSON type, resolve, conforms) → in the slice?


def compile_matcher(slice_node: Node, discriminators: tuple[Discriminator, ...]) -> Matcher:
    """:func:`matches` for one slice, with what the slice's definition decides worked out once:
    for ``value`` and ``pattern`` discriminators the expected value; the others as :func:`_one`."""
    checks = [_compile_one(slice_node, d) for d in discriminators]
    if len(checks) == 1:
        return checks[0]
    return lambda item, json_type, resolve, conforms: all(c(item, json_type, resolve, conforms) for c in checks)


def _never(item: object, json_type: str, resolve: Resolve, conforms: Conforms) -> bool:
    return False


def url_index(slices: list[Node], discriminators: tuple[Discriminator, ...]) -> dict[str, Node] | None:
    """For extensions sliced by ``url`` alone with a fixed url per slice: url → the first slice
    with it, the slice :func:`compile_matcher`'s matchers put an item with that (string) url in;
    None for any other slicing."""
    if len(discriminators) != 1 or discriminators[0].type not in ("value", "pattern") \
            or _split(discriminators[0].path) != ("url",):
        return None
    index: dict[str, Node] = {}
    for s in slices:
        expected = _expected(s, discriminators[0])
        if expected is None:
            continue  # the slice's matcher is _never
        if not expected[0].startswith("fixed") or not isinstance(expected[1], str):
            return None
        index.setdefault(expected[1], s)
    return index


def _expected(slice_node: Node, d: Discriminator) -> tuple[str, object] | None:
    """The fixed or pattern value a ``value``/``pattern`` discriminator expects of the slice."""
    path, target = d.path, definition_at(slice_node, d.path)
    if target is None and _split(path) == ("url",):
        url = _extension_url(slice_node)
        return ("fixedUri", url) if url is not None else None
    if target is None:
        return None
    expected = target.fixed or target.pattern
    if expected is None and _split(path) == ("url",):
        url = _extension_url(slice_node)
        expected = ("fixedUri", url) if url else None
    return expected


def _compile_one(slice_node: Node, d: Discriminator) -> Matcher:
    if d.type not in ("value", "pattern"):
        return lambda item, json_type, resolve, conforms: _one(item, json_type, slice_node, d, resolve, conforms)
    path, expected = d.path, _expected(slice_node, d)
    if expected is None:
        return _never
    wanted = expected[1]
    if expected[0].startswith("fixed"):
        if _split(path) == ("url",):
            def fixed_url(item: object, json_type: str, resolve: Resolve, conforms: Conforms) -> bool:
                if not isinstance(item, dict):
                    return False
                hit = item.get("url")
                if hit is None:
                    return any(v == wanted for v in navigate(item, path, resolve))
                return any(v == wanted for v in hit) if isinstance(hit, list) else hit == wanted
            return fixed_url
        return lambda item, json_type, resolve, conforms: any(v == wanted for v in navigate(item, path, resolve))
    return lambda item, json_type, resolve, conforms: any(contains(wanted, v) for v in navigate(item, path, resolve))


def _one(item: object, json_type: str, slice_node: Node, d: Discriminator, resolve: Resolve,
         conforms: Conforms) -> bool:
    values = navigate(item, d.path, resolve)
    target = definition_at(slice_node, d.path)
    if target is None and _split(d.path) == ("url",) and d.type in ("value", "pattern"):
        url = _extension_url(slice_node)
        return url is not None and any(v == url for v in values)
    if target is None:
        return False
    if d.type in ("value", "pattern"):
        expected = target.fixed or target.pattern
        if expected is None and _split(d.path) == ("url",):
            url = _extension_url(slice_node)
            expected = ("fixedUri", url) if url else None
        if expected is None:
            return False
        is_fixed = expected[0].startswith("fixed")
        return any((v == expected[1]) if is_fixed else contains(expected[1], v) for v in values)
    if d.type == "exists":
        return bool(values) == (target.min >= 1) if target.max != 0 else not values
    if d.type == "type":
        have = {v.get("resourceType") for v in values if isinstance(v, dict) and "resourceType" in v}
        if not have and _split(d.path) == ():
            have = {json_type}
        return bool(have & set(target.type_codes))
    if d.type == "profile":
        wanted = [p for t in target.types for p in (t.target_profiles if "resolve()" in d.path else t.profiles)]
        return any(conforms(v, p) for v in values for p in wanted)
    return False


def _list(value: object) -> list:
    """An array property's items; [] for anything else (a wrong JSON type is the schema's to report)."""
    return value if isinstance(value, list) else []
