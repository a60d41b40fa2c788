"""What a Reference says about its target's type (FHIR R4 references.html): the type of a
relative or absolute RESTful ``reference`` (``Patient/1``, ``http://x/fhir/Patient/1``), else its
``type``.  ``#local``, ``urn:`` and logical references say nothing here."""

from __future__ import annotations

import re

from fhir_server.definitions.structures import structures

_RESTFUL = re.compile(r"(?:^|/)(?P<type>[A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?\Z")


def reference_type(reference: dict) -> str | None:
    """The resource type a Reference names, or None when it does not say."""
    ref = reference.get("reference")
    if isinstance(ref, str) and not ref.startswith(("#", "urn:")):
        path, _, query = ref.partition("?")
        if query:  # a conditional reference in a transaction: Type?criteria
            return path if structures().is_resource_type(path) else None
        match = _RESTFUL.search(path)
        if match is not None and structures().is_resource_type(match["type"]):
            return match["type"]
    stated = reference.get("type")
    if isinstance(stated, str) and structures().is_resource_type(stated):
        return stated
    return None
