"""What a Subscription resource says (R4 Subscription), read in one place."""

from __future__ import annotations

from dataclasses import dataclass

REST_HOOK, WEBSOCKET = "rest-hook", "websocket"
CHANNELS = (REST_HOOK, WEBSOCKET)
FHIR_JSON = "application/fhir+json"
PAYLOADS = ("", FHIR_JSON, "application/json")
# the R4 topic-based Subscriptions Backport IG: how much of the resource a notification carries
BACKPORT_CONTENT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content"
BACKPORT_CONTENTS = ("empty", "id-only", "full-resource")
REQUESTED, ACTIVE, ERROR, OFF = "requested", "active", "error", "off"


@dataclass(frozen=True, slots=True)
class Channel:
    type: str
    endpoint: str
    payload: str  # "" = a notification without a body
    headers: tuple[str, ...]
    backport: str | None  # empty | id-only | full-resource when the Backport IG's extension is there


def channel_of(subscription: dict) -> Channel:
    found = subscription.get("channel")
    channel: dict = found if isinstance(found, dict) else {}
    payload = str(channel.get("payload")) if isinstance(channel.get("payload"), str) else ""
    backport = next((e.get("valueCode") for e in (channel.get("_payload") or {}).get("extension") or []
                     if isinstance(e, dict) and e.get("url") == BACKPORT_CONTENT), None)
    headers = tuple(h for h in channel.get("header") or () if isinstance(h, str))
    return Channel(str(channel.get("type") or ""), str(channel.get("endpoint") or ""), payload, headers, backport)


def status_of(subscription: dict | None) -> str:
    return str((subscription or {}).get("status") or "")


def with_status(subscription: dict, status: str, error: str | None = None) -> dict:
    """A copy with ``status`` and, for ``error``, the reason (R4 Subscription.error)."""
    updated = {k: v for k, v in subscription.items() if k != "error"}
    updated["status"] = status
    if error:
        updated["error"] = error[:1000]
    return updated
