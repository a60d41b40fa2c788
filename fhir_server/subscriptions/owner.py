"""The owner of a subscription: the principal who wrote it, and what it may see (SPEC §6).

Recorded when a client writes the Subscription; on delivery the notified resource must be
within the owner's reach, exactly as a search by that principal would return it.
"""

from __future__ import annotations

from fhir_server.auth.access import grant
from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import READ, parse_scopes
from fhir_server.interactions.access import visible
from fhir_server.repository.base import UnitOfWork


def to_record(principal: Principal) -> dict:
    return {"subject": principal.subject, "scopes": [str(s) for s in principal.scopes],
            "fhirUser": principal.fhir_user, "patient": principal.patient, "region": principal.region,
            "clientId": principal.client_id, "open": principal.open}


def from_record(record: dict | None) -> Principal | None:
    if not isinstance(record, dict):
        return None
    return Principal(subject=str(record.get("subject") or "unknown"),
                     scopes=parse_scopes(" ".join(record.get("scopes") or [])),
                     fhir_user=record.get("fhirUser"), patient=record.get("patient"), region=record.get("region"),
                     client_id=record.get("clientId"), open=bool(record.get("open")))


def may_see(uow: UnitOfWork, owner: Principal | None, res_type: str, res_id: str) -> bool:
    """Would ``owner`` find ``res_type/res_id`` by reading it?  No owner on record: only the
    server's own subscriptions (written without a request), which see everything."""
    if owner is None or owner.open:
        return True
    granted = grant(owner, res_type, READ)
    if granted is None:
        return False
    return not granted.limited or visible(uow, granted, res_type, res_id)
