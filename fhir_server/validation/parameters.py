"""References between the resources a ``Parameters`` resource carries (FHIR R4 parameters.html;
references.html "resolving references in Bundles", which the reference validator applies to
the resources of a Parameters as well, e.g. the ``$member-match`` input of Da Vinci PDex).

A ``Parameters`` resource sent to an operation carries related resources side by side
(``parameter.resource``, at any depth of ``part``): a Coverage whose ``beneficiary`` is the
Patient passed in another parameter.  A relative reference ``Type/id`` from one of these
resources (contained ones included) must name one of them when the Parameters carries any
resource of that type: the sender chose to pass the ``Type`` resources the operation needs,
and a ``Type/id`` that matches none of them is a dangling link, not a server reference (the
operation has no server to resolve it against).  When the Parameters carries no resource of
that type, the reference may point at a server, and is not judged.  A reference that does
resolve must resolve to a resource of the type it names.

References from a Bundle carried in a parameter are the Bundle's own business (:mod:`.bundle`).
"""

from __future__ import annotations

from collections.abc import Iterator

from fhir_server.core.errors import Issue
from fhir_server.validation.bundle import reference_locations, restful


def parameters_issues(resource: dict, where: str = "Parameters") -> list[Issue]:
    carried = list(_carried(resource.get("parameter"), f"{where}.parameter"))
    types = {str(res.get("resourceType")) for res, _ in carried}
    by_id: dict[str, list[dict]] = {}
    for res, _ in carried:
        if isinstance(res.get("id"), str):
            by_id.setdefault(res["id"], []).append(res)
    issues: list[Issue] = []
    for res, loc in carried:
        if res.get("resourceType") == "Bundle":
            continue
        for ref_loc, reference in reference_locations(res, loc):
            match = restful(reference) if not reference.startswith(("#", "urn:")) else None
            if match is None or match["base"] or match["type"] not in types:
                continue  # absolute, logical, local or of a type this Parameters does not carry
            targets = by_id.get(match["id"], [])
            if any(t.get("resourceType") == match["type"] for t in targets):
                continue
            if targets:
                issues.append(Issue("invalid", f"'{reference}' names a {targets[0].get('resourceType')} of this "
                                    f"Parameters, not a {match['type']}", expression=(ref_loc,)))
            else:
                issues.append(Issue("not-found", f"'{reference}' does not resolve to a resource of this "
                                    f"Parameters: it carries {match['type']} resources, none with id "
                                    f"'{match['id']}'", expression=(ref_loc,)))
    return issues


def _carried(parameters: object, where: str) -> Iterator[tuple[dict, str]]:
    """(resource, location) of every ``parameter.resource``, at any depth of ``part``."""
    if not isinstance(parameters, list):
        return
    for i, parameter in enumerate(parameters):
        if not isinstance(parameter, dict):
            continue
        inner = parameter.get("resource")
        if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str):
            yield inner, f"{where}[{i}].resource"
        yield from _carried(parameter.get("part"), f"{where}[{i}].part")
