"""``_summary`` and ``_elements`` (FHIR R4 §3.1.1.5.8 search.html#summary, #elements).

Both return a *new* resource holding a subset of the input's elements and mark it with the
``SUBSETTED`` tag, because a client must not mistake a partial resource for the whole one (and
e.g. PUT it back).  Elements are chosen from the definitions' ``isSummary`` flags and
cardinalities, so no resource type needs a hand-written list.  ``_summary=count`` is a search
concern and is not handled here.

The result shares unchanged sub-objects with the input; the input itself is never modified.
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_server.core.errors import BadRequest
from fhir_server.definitions.structures import ElementDef, structures

SUBSETTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
SUBSETTED = {"system": SUBSETTED_SYSTEM, "code": "SUBSETTED"}
SUMMARY_MODES = ("true", "text", "data", "false")
# Kept whole under _summary=true: an Extension's url and value are not flagged isSummary, yet an
# extension without them means nothing; an inline resource is summarized by its own request.
_WHOLE_TYPES = frozenset({"Extension", "Resource"})


def summarize(resource: dict, mode: str) -> dict:
    """The resource as ``_summary=mode`` asks (true | text | data | false)."""
    if mode == "false":
        return resource
    rtype = resource.get("resourceType", "")
    if mode == "true":
        subset = _summary_of(resource, rtype)
    elif mode == "text":
        subset = _top_level(resource, lambda key, e: key in ("id", "meta", "text") or e.min >= 1)
    elif mode == "data":
        subset = _top_level(resource, lambda key, e: key != "text")
    elif mode == "count":
        raise BadRequest("_summary=count applies to searches only", code="invalid", expression=["_summary"])
    else:
        raise BadRequest(f"Unknown _summary value '{mode}' (expected true, text, data, count or false)",
                         code="invalid", expression=["_summary"])
    return mark_subsetted(subset)


def select_elements(resource: dict, elements: Iterable[str]) -> dict:
    """The resource as ``_elements=...`` asks: the named top-level elements, plus id, meta and
    the mandatory ones (which the spec allows a server to add so the result stays valid).

    Choice elements may be named by their base name (``value``), definition name
    (``value[x]``) or JSON name (``valueQuantity``).  A dotted name selects its first segment.
    """
    wanted = {name.strip().split(".")[0] for name in elements if name.strip()}
    rtype = resource.get("resourceType", "")
    if rtype in wanted:  # "Patient.name" style; R4 allows only plain names, but it is harmless
        wanted.discard(rtype)
    subset = _top_level(resource, lambda key, e: key in wanted or e.name in wanted or e.base_name in wanted
                        or key in ("id", "meta") or e.min >= 1)
    return mark_subsetted(subset)


def mark_subsetted(resource: dict) -> dict:
    """Add the SUBSETTED tag to ``resource.meta.tag`` (new meta and tag list; once only)."""
    meta = dict(resource.get("meta") or {})
    tags = list(meta.get("tag") or [])
    if not any(t.get("system") == SUBSETTED_SYSTEM and t.get("code") == "SUBSETTED" for t in tags):
        tags.append(dict(SUBSETTED))
    meta["tag"] = tags
    out: dict = {}
    for key, value in resource.items():
        out[key] = value
        if key == "id" or (key == "resourceType" and "id" not in resource):
            out["meta"] = meta  # keep meta near the top, where readers look for it
    out["meta"] = meta
    return out


def _top_level(resource: dict, keep) -> dict:
    """The top-level elements for which ``keep(json_name, element)`` is true (``_x`` follows x)."""
    registry = structures()
    rtype = resource.get("resourceType", "")
    out: dict = {"resourceType": rtype}
    for key, value in resource.items():
        base = key.removeprefix("_")
        hit = registry.resolve(rtype, base)
        if hit is not None and keep(base, hit.element):
            out[key] = value
    return out


def _summary_of(obj: dict, path: str) -> dict:
    """Elements flagged isSummary (or mandatory), recursively through complex and backbone types."""
    registry = structures()
    out: dict = {"resourceType": obj["resourceType"]} if "resourceType" in obj else {}
    for key, value in obj.items():
        base = key.removeprefix("_")
        hit = registry.resolve(path, base)
        if hit is None or not _in_summary(hit.element):
            continue
        if key != base or registry.is_primitive(hit.type_code) or _kept_whole(hit.type_code):
            out[key] = value
        elif isinstance(value, list):
            out[key] = [_summary_of(v, hit.children_path) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict):
            out[key] = _summary_of(value, hit.children_path)
    return out


def _in_summary(element: ElementDef) -> bool:
    return element.summary or element.min >= 1


def _kept_whole(type_code: str) -> bool:
    return type_code in _WHOLE_TYPES or structures().kind(type_code) == "resource"
