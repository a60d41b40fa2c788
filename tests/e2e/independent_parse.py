"""An independent reading of what the server emits: every FHIR JSON resource a real server
answers with in the e2e tests is parsed by fhir.resources (its R4B models, which agree with
R4 for the resource types listed below), so a structural mistake of the server's serializer
(an unknown element, a wrong primitive format, a list where one value belongs) that the
server's own validator would share does not go unnoticed.

R4B changed the medicinal-product and evidence resources and a few conformance details; the
types in :data:`R4B_DIFFERS` are left to the server's own R4 checks (and to the official R4
examples in tests/conformance)."""

from __future__ import annotations

import json
from functools import cache

from fhir.resources.R4B import get_fhir_model_class

R4B_DIFFERS = frozenset({
    "MedicinalProduct", "MedicinalProductAuthorization", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged", "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect", "SubstanceSpecification", "SubstanceNucleicAcid", "SubstancePolymer",
    "SubstanceProtein", "SubstanceReferenceInformation", "SubstanceSourceMaterial", "EffectEvidenceSynthesis",
    "RiskEvidenceSynthesis", "Evidence", "EvidenceVariable", "ResearchDefinition", "ResearchElementDefinition",
    "ImplementationGuide", "StructureDefinition", "CapabilityStatement", "TerminologyCapabilities",
})


@cache
def _model(resource_type: str):
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None


def problems_in(resource: object, where: str) -> list[str]:
    """What fhir.resources refuses in ``resource`` (a Bundle's entries each on their own)."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return []
    found: list[str] = []
    if resource["resourceType"] == "Bundle":
        shell = {**resource, "entry": []}
        for i, entry in enumerate(resource.get("entry") or []):
            if not isinstance(entry, dict):
                continue
            found += problems_in(entry.get("resource"), f"{where} entry[{i}]")
            found += problems_in((entry.get("response") or {}).get("outcome"), f"{where} entry[{i}].response")
            shell["entry"].append({k: v if k != "response" else {**v, "outcome": None}
                                   for k, v in entry.items() if k != "resource"})
        for entry in shell["entry"]:
            if isinstance(entry.get("response"), dict):
                entry["response"] = {k: v for k, v in entry["response"].items() if v is not None}
        if not shell["entry"]:
            del shell["entry"]
        resource = shell
    elif resource["resourceType"] in R4B_DIFFERS:
        return found
    model = _model(resource["resourceType"])
    if model is None:
        return found
    try:
        model.model_validate(resource)
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError and fhir.resources' own errors
        found.append(f"{where} {resource['resourceType']}/{resource.get('id', '')}: {exc}")
    return found


def problems_in_response(response) -> list[str]:
    """The problems of a ``requests`` response carrying FHIR JSON (others are not read)."""
    kind = response.headers.get("Content-Type", "")
    if "json" not in kind:
        return []
    try:
        body = json.loads(response.content)
    except ValueError:
        return []
    return problems_in(body, f"{response.request.method} {response.url} → {response.status_code}:")
