"""Loading the Jiayi implementation guide into the store at start (SPEC §3: "the server loads it at start").

The IG's conformance resources (StructureDefinitions, CodeSystems, ValueSets, NamingSystems,
SearchParameters, OperationDefinitions, ConceptMaps, the Questionnaire, the Measures, the
ImplementationGuide) are stored like any resource, so they are read, searched and
versioned like any other, and the IG's SearchParameters take effect through the same path
as one a user posts.  Loading is idempotent and cheap when nothing changed: the stored
ImplementationGuide carries the IG's fingerprint as a tag, one read answers "already
loaded", and a resource whose content did not change is not written again (no new version).
"""

from __future__ import annotations

from fhir_server.definitions import ig
from fhir_server.repository.base import Repository, StoredResource, UnitOfWork, same_content

FINGERPRINT_SYSTEM = "https://jiayi.dev/fhir/ig-fingerprint"
IG_ID = "jiayi"


def _loaded(current: StoredResource | None, fingerprint: str) -> bool:
    if current is None or current.deleted or not current.content:
        return False
    tags = (current.content.get("meta") or {}).get("tag") or []
    return any(t.get("system") == FINGERPRINT_SYSTEM and t.get("code") == fingerprint for t in tags)


def _with_fingerprint(resource: dict, fingerprint: str) -> dict:
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), {"system": FINGERPRINT_SYSTEM, "code": fingerprint,
                                          "display": "Jiayi IG content fingerprint"}]
    return {**resource, "meta": meta}


def install(repository: Repository) -> int:
    """Store the IG's resources that are missing or changed; returns how many were written."""
    fingerprint = ig.fingerprint()
    with repository.unit_of_work() as uow:
        if _loaded(uow.get("ImplementationGuide", IG_ID), fingerprint):
            return 0
    with repository.unit_of_work(write=True) as uow:
        uow.lock("jiayi:implementation-guide")
        if _loaded(uow.get("ImplementationGuide", IG_ID), fingerprint):
            return 0
        written, reindex = _write_all(uow, fingerprint)
    for res_type in sorted(reindex):
        repository.reindex(res_type)
    return written


def _write_all(uow: UnitOfWork, fingerprint: str) -> tuple[int, set[str]]:
    written, reindex = 0, set()
    # SearchParameters near the end (each one written makes the indexer reload its registry),
    # the ImplementationGuide with its fingerprint last (an interrupted load is redone)
    order = {"SearchParameter": 1, "ImplementationGuide": 2}
    resources = sorted(ig.conformance(), key=lambda r: order.get(r["resourceType"], 0))
    for resource in resources:
        res_type, res_id = resource["resourceType"], resource["id"]
        if res_type == "ImplementationGuide" and res_id == IG_ID:
            resource = _with_fingerprint(resource, fingerprint)
        current = uow.get(res_type, res_id, for_update=True)
        live = current is not None and not current.deleted and current.content is not None
        if live and same_content(current.content, resource):  # type: ignore[union-attr, arg-type]
            continue
        uow.save("PUT", res_type, res_id, resource, current)
        written += 1
        if res_type == "SearchParameter":
            reindex.update(resource.get("base", []))
    return written, reindex
