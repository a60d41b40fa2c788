"""Reference target types (FHIR R4 references.html).

- :func:`reference_type`: the type a Reference names: the type of a relative or absolute
  RESTful ``reference`` (``Patient/1``, ``http://x/fhir/Patient/1``), of a conditional one
  (``Patient?identifier=…``), else its ``type``; ``#local``, ``urn:`` and logical references say
  nothing here.
- :func:`allowed_targets`: the types an element may refer to: its R4 ``targetProfile``s (derived
  into the element tree), plus those the Jiayi IG's profiles declare on the same element (SPEC
  §3: a referral is ``basedOn`` its contract, which R4's ServiceRequest.basedOn does not list;
  the IG's jiayi-referral profile does).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from fhir_server.definitions import ig
from fhir_server.definitions.structures import ElementDef, structures

_RESTFUL = re.compile(r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?\Z")

MEMO_LENGTH = 256  # longer reference strings are parsed every time, not remembered


def reference_type(reference: dict) -> str | None:
    """The resource type a Reference names, or None when it does not say."""
    ref = reference.get("reference")
    if isinstance(ref, str):
        named = _named_type(ref) if len(ref) <= MEMO_LENGTH else _named_type.__wrapped__(ref)
        if named is not None:
            return named or None
    stated = reference.get("type")
    if isinstance(stated, str) and structures().is_resource_type(stated):
        return stated
    return None


@lru_cache(maxsize=8192)
def _named_type(ref: str) -> str | None:
    """The resource type a ``reference`` string names; '' for a conditional reference to an unknown
    type (its ``type`` is not looked at then); None when it says nothing (remembered: the same
    references come back)."""
    if ref.startswith(("#", "urn:")):
        return None
    path, _, query = ref.partition("?")
    if query:  # a conditional reference in a transaction: Type?criteria
        return path if structures().is_resource_type(path) else ""
    match = _RESTFUL.search(path)
    if match is not None and structures().is_resource_type(match["type"]):
        return match["type"]
    return None


def allowed_targets(element: ElementDef) -> frozenset[str]:
    return _allowed(element.path, element.targets)


@cache
def _allowed(path: str, targets: tuple[str, ...]) -> frozenset[str]:
    return frozenset(targets) | _ig_targets().get(path, frozenset())


@cache
def _ig_targets() -> dict[str, frozenset[str]]:
    """Element path -> the resource types the IG's profiles let it refer to."""
    definitions = [r for r in ig.resources() if r.get("resourceType") == "StructureDefinition"]
    type_of = {sd.get("url"): sd.get("type") for sd in definitions}
    out: dict[str, set[str]] = {}
    for sd in definitions:
        for element in (sd.get("snapshot") or {}).get("element", []):
            for t in element.get("type", []):
                for profile in t.get("targetProfile", []) if t.get("code") == "Reference" else []:
                    target = type_of.get(profile) or profile.rsplit("/", 1)[-1]
                    if structures().is_resource_type(target) or target == "Resource":
                        out.setdefault(element.get("path", ""), set()).add(target)
    return {path: frozenset(types) for path, types in out.items()}
