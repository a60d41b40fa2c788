"""What a notification carries (R4 Subscription.channel.payload; the Backport IG's payload content).

- R4, no payload: a POST without a body (the receiver searches for what changed);
- R4, ``application/fhir+json``: the resource, as it was written;
- Backport IG (``backport-payload-content`` on ``channel.payload``): a ``history`` Bundle whose
  first entry is the SubscriptionStatus Parameters (``event-notification``, or ``handshake``),
  followed for ``id-only`` by the resource's fullUrl and for ``full-resource`` by the resource.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fhir_server.core import jsonio
from fhir_server.core.instants import fhir_instant
from fhir_server.subscriptions.records import FHIR_JSON, Channel

HANDSHAKE, EVENT = "handshake", "event-notification"


@dataclass(frozen=True, slots=True)
class Notification:
    body: bytes | None
    content_type: str | None


def event_body(channel: Channel, subscription: dict, resource: dict | None, reference: str,
               base_url: str, events_since_start: int) -> Notification:
    if channel.backport is not None:
        bundle = _status_bundle(subscription, EVENT, base_url, events_since_start)
        if channel.backport in ("id-only", "full-resource"):
            entry: dict = {"fullUrl": f"{base_url}/{reference}"}
            if channel.backport == "full-resource" and resource is not None:
                entry["resource"] = resource
            bundle["entry"].append(entry)
        return Notification(jsonio.dumps(bundle), FHIR_JSON)
    if channel.payload and resource is not None:
        return Notification(jsonio.dumps(resource), FHIR_JSON)
    return Notification(None, None)


def handshake_body(channel: Channel, subscription: dict, base_url: str) -> Notification:
    """The first POST to a new rest-hook endpoint: the Backport IG's handshake Bundle, or, for an
    R4 subscription, a POST without a body (what an R4 receiver already accepts)."""
    if channel.backport is None:
        return Notification(None, None)
    return Notification(jsonio.dumps(_status_bundle(subscription, HANDSHAKE, base_url, 0)), FHIR_JSON)


def _status_bundle(subscription: dict, kind: str, base_url: str, events: int) -> dict:
    from datetime import UTC, datetime

    parameters = {"resourceType": "Parameters", "id": str(uuid.uuid4()), "parameter": [
        {"name": "subscription", "valueReference": {"reference": f"{base_url}/Subscription/{subscription.get('id')}"}},
        {"name": "topic", "valueCanonical": str(subscription.get("criteria") or "")},
        {"name": "status", "valueCode": str(subscription.get("status") or "active")},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events)},
    ]}
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "history",
            "timestamp": fhir_instant(datetime.now(UTC)),
            "entry": [{"fullUrl": f"urn:uuid:{parameters['id']}", "resource": parameters,
                       "request": {"method": "GET", "url": f"Subscription/{subscription.get('id')}/$status"},
                       "response": {"status": "200"}}]}
