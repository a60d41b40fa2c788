"""Layer 1: the official R4 JSON Schema (FHIR R4 §2 baseline; json.html "JSON Schema").

The schema (draft-06) is loaded once and prepared for speed and for useful errors:

- each resource type gets its own validator rooted at ``#/definitions/<Type>``, and every
  internal ``$ref`` is replaced by the definition it names, so validation never resolves a
  reference at run time;
- ``ResourceList`` (the ``oneOf`` of all 150 resource types used by ``contained``,
  ``Bundle.entry.resource``, ``Bundle.entry.response.outcome`` and
  ``Parameters.parameter.resource``) becomes "any object": a ``oneOf`` failure says nothing
  useful, so nested resources are validated on their own by :mod:`.resource`;
- every primitive property gets its ``_property`` partner (id and extensions of the value,
  json.html "Representations of primitive data types"): the schema lacks it for about 180
  properties, e.g. every ``canonical`` (``StructureDefinition._baseDefinition``,
  ``ElementDefinition.type._profile`` appear in the official examples);
- properties the packaged schema adds beyond R4 (``Reference.resource``,
  ``OperationOutcome.status``/``resource``, ``modifierExtension`` on plain data-type
  elements) are removed, so they are reported as unknown elements, as R4 says.

Only these schema findings become issues: wrong JSON types, unknown properties, codes
outside a required ``enum``.  Patterns and ``required`` are left to :mod:`.walker`, which
checks them with R4's own cardinalities and Python-correct grammars; the schema's patterns
are removed when it loads, so no validator runs them (their regexes backtrack).
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable
from functools import cache

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import DATA, structures
from fhir_server.validation.paths import join, shown

NOT_R4 = {"Reference": ("resource",), "OperationOutcome": ("status", "resource")}
LEFT_TO_WALKER = frozenset({"pattern", "required"})
JSON_TYPES = {"string": "a string", "number": "a number", "boolean": "true or false",
              "object": "a JSON object", "array": "a JSON array"}


@cache
def definitions() -> dict[str, dict]:
    """The schema's definitions, with ``$ref`` inlined and the adjustments above applied."""
    defs = copy.deepcopy(_adjusted())
    _inline(defs)
    return defs


@cache
def _adjusted() -> dict[str, dict]:
    """The schema's definitions with the adjustments above applied (``$ref`` kept)."""
    defs = json.loads((DATA / "fhir.schema.json").read_text(encoding="utf-8"))["definitions"]
    defs["ResourceList"] = {"type": "object"}
    for name, props in NOT_R4.items():
        for prop in props:
            defs[name]["properties"].pop(prop, None)
    _add_element_partners(defs)
    _drop_patterns(defs)
    registry = structures()
    for name, definition in defs.items():
        path = _registry_path(name)
        props = definition.get("properties", {})
        if path and "modifierExtension" in props and registry.children(path) \
                and "modifierExtension" not in registry.children(path):
            del props["modifierExtension"]
    return defs


def _drop_patterns(defs: dict[str, dict]) -> None:
    """Remove the schema's ``pattern``s: their findings were never reported (the walker checks each
    primitive with a hand-checked linear grammar), but both validators still ran them, and the
    base64Binary one (``^(\\s*([0-9a-zA-Z\\+\\=]){4}\\s*)+$``) backtracks without bound under
    Python's ``re``: one Binary of spaces froze a worker (issue 18)."""
    stack: list = list(defs.values())
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                del node["pattern"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _add_element_partners(defs: dict[str, dict]) -> None:
    primitives = {name for name, d in defs.items() if d.get("type") in ("string", "number", "boolean")}
    element = {"$ref": "#/definitions/Element"}
    for name, definition in defs.items():
        props = definition.get("properties", {})
        for key, prop in list(props.items()):
            if key.startswith("_") or key == "id" or (name == "Extension" and key == "url") or "_" + key in props:
                continue
            if "enum" in prop or prop.get("$ref", "").rsplit("/", 1)[-1] in primitives:
                props["_" + key] = element
            elif "enum" in prop.get("items", {}) \
                    or prop.get("items", {}).get("$ref", "").rsplit("/", 1)[-1] in primitives:
                props["_" + key] = {"type": "array", "items": element}


def _registry_path(name: str) -> str | None:
    """``Timing_Repeat`` → ``Timing.repeat`` (only where the StructureDefinition path is that simple)."""
    head, *rest = name.split("_")
    return ".".join([head] + [part[:1].lower() + part[1:] for part in rest]) if rest else None


def _inline(defs: dict[str, dict]) -> None:
    """Replace each ``{"$ref": "#/definitions/X"}`` by the (shared) definition object X."""
    seen: set[int] = set()
    stack: list = list(defs.values())
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in list(items):
            if isinstance(child, dict) and "$ref" in child:
                # a few packager-added (non-R4) types name undefined ones; accept anything there
                node[key] = defs.get(child["$ref"].rsplit("/", 1)[-1], {})
            elif isinstance(child, (dict, list)):
                stack.append(child)


@cache
def validator(resource_type: str) -> Draft6Validator:
    return Draft6Validator(definitions()[resource_type])


@cache
def _fast_check(resource_type: str) -> Callable[[object], bool] | None:
    """A compiled (Rust) validator of the same schema that only answers "no finding at all":
    most resources written are valid, and proving that is ~20x cheaper there.  Anything it
    rejects goes through :func:`validator`, which alone words the issues."""
    try:
        import jsonschema_rs

        return jsonschema_rs.Draft6Validator(
            {"$ref": f"#/definitions/{resource_type}", "definitions": _adjusted()}).is_valid
    except Exception:  # noqa: BLE001 - not installed or cannot compile: the Python validator only
        return None


def schema_issues(resource: dict, resource_type: str, base: str) -> list[Issue]:
    """Schema findings for ``resource`` (already known to be a ``resource_type``) as issues."""
    fast = _fast_check(resource_type)
    if fast is not None and fast(resource):
        return []
    issues: list[Issue] = []
    for error in validator(resource_type).iter_errors(resource):
        issues.extend(_translate(error, base))
    return issues


def _translate(error: ValidationError, base: str) -> list[Issue]:
    kind = error.validator
    parts = list(error.absolute_path)
    where = join(base, parts)
    if kind in LEFT_TO_WALKER:
        return []
    if error.instance is None:
        if parts and isinstance(parts[-1], int):
            return []  # null inside a primitive array: the walker checks its _element partner
        return [Issue("structure", "null is not allowed: omit the element instead", expression=(where,))]
    if kind == "additionalProperties":
        return [_unknown(key, error, where) for key in error.instance if key not in error.schema.get("properties", {})]
    if kind == "type":
        return [Issue("structure", _wrong_type(error), expression=(where,))]
    if kind == "enum":
        codes = [str(v) for v in error.validator_value]
        allowed = ", ".join(codes[:15]) + (f", ... ({len(codes)} codes)" if len(codes) > 15 else "")
        return [Issue("code-invalid", f"Code {shown(error.instance)} is not in the required value set; "
                      f"allowed codes: {allowed}", expression=(where,))]
    return [Issue("invalid", error.message, expression=(where,))]


def _unknown(key: str, error: ValidationError, where: str) -> Issue:
    known = list(error.schema.get("properties", {}))
    hint = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    choices = [k for k in known if k.startswith(key) and k[len(key):][:1].isupper()]
    message = f"Unknown element {key!r}: it is not part of this R4 element"
    if choices:
        message += f"; {key} is a choice element, send one of {', '.join(choices[:6])}"
        message += ", ..." if len(choices) > 6 else ""
    elif hint:
        message += f"; did you mean {hint[0]!r}?"
    return Issue("structure", message, expression=(f"{where}.{key}",))


def _wrong_type(error: ValidationError) -> str:
    expected = error.validator_value
    expected = expected if isinstance(expected, str) else " or ".join(expected)
    got = shown(error.instance)
    if expected == "array":
        return f"This element repeats: send a JSON array, got {got}"
    if isinstance(error.instance, list):
        return f"This element does not repeat: expected {JSON_TYPES.get(expected, expected)}, got an array"
    return f"Wrong JSON type: expected {JSON_TYPES.get(expected, expected)}, got {got}"
