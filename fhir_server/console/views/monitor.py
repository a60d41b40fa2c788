"""The integration monitor (接口监控): recent imports with their errors, the HL7 v2 messages and
their ACKs, subscription deliveries, as far as the server records them as FHIR resources
(AuditEvents of the adapters' writes, Subscriptions and their status)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import Source, concept_text, display

OUTCOMES = {"0": "成功", "4": "轻微错误", "8": "严重错误", "12": "重大错误"}


@dataclass
class Monitor:
    events: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    subscriptions: list[dict] = field(default_factory=list)
    available: bool = True


def build(source: Source) -> Monitor:
    monitor = Monitor()
    events = source.search("AuditEvent?_sort=-date&_count=50")
    for event in events:
        agents = [display(a.get("who")) or (a.get("who") or {}).get("identifier", {}).get("value", "")
                  for a in event.get("agent") or []]
        row = {"when": (event.get("recorded") or "")[:19].replace("T", " "),
               "what": concept_text(event.get("type")) + (" " + (event.get("action") or "")),
               "subtype": ", ".join(concept_text({"coding": [c]}) for c in event.get("subtype") or []),
               "who": ", ".join(a for a in agents if a),
               "outcome": OUTCOMES.get(event.get("outcome", ""), event.get("outcome", "")),
               "detail": event.get("outcomeDesc", "")}
        monitor.events.append(row)
        if event.get("outcome") not in (None, "0"):
            monitor.failures.append(row)
    monitor.subscriptions = [{"id": s["id"], "criteria": s.get("criteria", ""), "status": s.get("status", ""),
                              "error": s.get("error", ""),
                              "endpoint": (s.get("channel") or {}).get("endpoint", "")}
                             for s in source.search("Subscription?_count=50")]
    return monitor
