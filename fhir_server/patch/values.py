"""Turn a FHIRPath Patch ``value`` part into JSON for a target element (FHIR R4 fhirpatch.html, "value").

A value arrives as ``value[x]`` (its type is in the JSON name: ``valueDate``), as a
``resource``, or, for anonymous types such as ``Patient.contact``, as nested ``part``s
named after the element's children.  What JSON to write depends on the element it goes
into: a choice element takes its JSON name from the value's type (``deceasedBoolean``), a
primitive takes the JSON type of *its* type (``"true"`` given for a boolean becomes
``true``), and nested parts are built against the element's children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_server.core.errors import BadRequest
from fhir_server.definitions.structures import ElementDef, structures
from fhir_server.patch.errors import cannot_apply

PART_PATH = "Parameters.parameter"
INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


@dataclass(frozen=True, slots=True)
class PatchValue:
    """A value as given: its FHIR type (None for nested parts), JSON, and primitive companion."""

    type_code: str | None
    value: Any = None
    companion: dict | None = None
    parts: tuple[dict, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    """What to write: the JSON property name, the value, and the ``_name`` companion if any."""

    key: str
    value: Any
    companion: dict | None = None


def read_value(part: dict) -> PatchValue:
    """The value carried by one ``part`` (``value[x]``, ``resource`` or nested ``part``)."""
    if isinstance(part.get("resource"), dict):
        return PatchValue(part["resource"].get("resourceType"), part["resource"])
    for key in part:
        name = key.removeprefix("_")
        hit = structures().resolve(PART_PATH, name) if name.startswith("value") else None
        if hit is not None:
            return PatchValue(hit.type_code, part.get(name), part.get("_" + name))
    if part.get("part"):
        return PatchValue(None, parts=tuple(part["part"]))
    raise BadRequest(f"Part {part.get('name')!r} carries no value")


def render(given: PatchValue, element: ElementDef, where: str) -> Rendered:
    """JSON for writing ``given`` into ``element`` (described at ``where`` for messages)."""
    type_code = _target_type(given, element, where)
    key = element.base_name + type_code[0].upper() + type_code[1:] if element.is_choice else element.name
    if given.type_code is None:
        return Rendered(key, build_object(given.parts, element.children_path(type_code), where))
    if structures().is_primitive(type_code):
        return Rendered(key, _primitive(given.value, type_code, where), given.companion)
    return Rendered(key, given.value)


def build_object(parts: tuple[dict, ...], children_path: str, where: str) -> dict:
    """An object of an anonymous or complex type from parts named after its children."""
    elements = structures().children(children_path)
    obj: dict = {}
    for part in parts:
        name = part.get("name", "")
        element = elements.get(name) or elements.get(name + "[x]")
        if element is None:
            raise cannot_apply(f"{children_path} has no element named {name!r}")
        out = render(read_value(part), element, f"{where}.{name}")
        if not element.is_array:
            if out.key in obj:
                raise cannot_apply(f"{children_path}.{name} is given more than once but does not repeat")
            obj[out.key] = out.value
            if out.companion:
                obj["_" + out.key] = out.companion
            continue
        obj.setdefault(out.key, []).append(out.value)
        if out.companion or "_" + out.key in obj:
            companions = obj.setdefault("_" + out.key, [None] * (len(obj[out.key]) - 1))
            companions.append(out.companion)
    return obj


def _target_type(given: PatchValue, element: ElementDef, where: str) -> str:
    """The element type the value is written as; refuses values the element cannot hold."""
    if given.type_code is None:
        if element.is_choice:
            raise cannot_apply(f"{where} is a choice of types: give the value as value[x], not parts")
        return element.types[0] if element.types else "BackboneElement"
    if element.is_choice:
        if given.type_code not in element.types:
            raise cannot_apply(f"{where} cannot hold a value of type {given.type_code}")
        return given.type_code
    target = element.types[0] if element.types else given.type_code
    reg = structures()
    same_kind = reg.is_primitive(target) == reg.is_primitive(given.type_code)
    compatible = target == given.type_code or target == "Resource" and reg.is_resource_type(given.type_code)
    if not (compatible or same_kind and reg.is_primitive(target)):
        raise cannot_apply(f"{where} is of type {target}; a {given.type_code} value cannot be used")
    return target


def _primitive(value: Any, type_code: str, where: str) -> Any:
    """``value`` in the JSON type of ``type_code`` (FHIR R4 json.html#primitive): bools, numbers."""
    if value is None:
        return None
    try:
        if type_code == "boolean":
            if isinstance(value, str) and value in ("true", "false"):
                return value == "true"
            if isinstance(value, bool):
                return value
            raise ValueError(value)
        if type_code in INTEGERS:
            if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if type_code == "decimal":
            if isinstance(value, bool):
                raise ValueError(value)
            return value if isinstance(value, (int, float)) else _number(value)
    except ValueError:
        raise cannot_apply(f"{where} is a {type_code}; {value!r} is not one") from None
    return value if isinstance(value, str) else _text(value)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
