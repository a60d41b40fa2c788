"""What a canonical URL names, when the server knows it (FHIR R4 references.html#canonical).

A ``canonical`` element says which resource types it may name (``targetProfile``, derived into
the element tree): ``QuestionnaireResponse.questionnaire`` names a Questionnaire.  When the
URL is one the server knows (R4's ValueSets, CodeSystems, SearchParameters and base
StructureDefinitions; the IG's conformance resources), its type is known, and a URL of another
type is an error (fhir-test-cases ``qr-bad-ref2``: a questionnaire that is a ValueSet).
Unknown URLs are not judged: they may live on another server.
"""

from __future__ import annotations

from functools import cache

from fhir_server.definitions import ig
from fhir_server.definitions.structures import structures
from fhir_server.terminology.service import r4_canonical_urls
from fhir_server.validation.definitional import known_search_parameters

BASE_SD = "http://hl7.org/fhir/StructureDefinition/"


@cache
def _known() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for url, kind in r4_canonical_urls():
        found.setdefault(url, set()).add(kind)
    for url in known_search_parameters():
        found.setdefault(url, set()).add("SearchParameter")
    for resource in ig.resources():
        if isinstance(resource.get("url"), str):
            found.setdefault(resource["url"], set()).add(resource["resourceType"])
    return {url: frozenset(kinds) for url, kinds in found.items()}


def canonical_types(url: str) -> frozenset[str] | None:
    """The resource types ``url`` names (without its ``|version``; a url may be both a
    CodeSystem's and a ValueSet's), or None when unknown here."""
    url = url.split("|", 1)[0]
    found = _known().get(url)
    if found is None and url.startswith(BASE_SD):
        name = url[len(BASE_SD):]
        registry = structures()
        if registry.is_resource_type(name) or registry.kind(name) is not None:
            return frozenset({"StructureDefinition"})
    return found
