"""The integration monitor (接口监控): recent imports with their errors, the HL7 v2 messages and
their ACKs, subscription deliveries, as far as the server records them as FHIR resources
(AuditEvents of the adapters' writes, Subscriptions and their status)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import Source, concept_text, display, ref

OUTCOMES = {"0": "成功", "4": "轻微错误", "8": "严重错误", "12": "重大错误"}
ACKS = {"0": "AA", "4": "AE", "8": "AR", "12": "AR"}
# the HL7 v2 adapter's AuditEvents (adapters/hl7v2/message_audit.py): DICOM Import (inbound) /
# Export (outbound), subtype the v2 message type (table 0076)
DCM = "http://dicom.nema.org/resources/ontology/DCM"
MESSAGE_CODE = "http://terminology.hl7.org/CodeSystem/v2-0076"
HL7_SEARCH = (f"AuditEvent?type={DCM}|110107,{DCM}|110106&subtype={MESSAGE_CODE}|ADT,{MESSAGE_CODE}|REF,"
              f"{MESSAGE_CODE}|RRI,{MESSAGE_CODE}|ORU&_sort=-date&_count=50")
# the outbound messages (REF^I12, RRI^I12): each attempt and outcome the sender records
QUEUE_SEARCH = f"AuditEvent?type={DCM}|110106&_sort=-date&_count=200"
# the public-health import runs (adapters/publichealth/import_audit.py): subtype the form
FORM = "https://jiayi.dev/fhir/CodeSystem/publichealth-form"
IMPORTS_SEARCH = f"AuditEvent?subtype={FORM}|&_sort=-date&_count=20"


@dataclass
class Monitor:
    imports: list[dict] = field(default_factory=list)  # import runs, latest first, with their refused rows
    events: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    subscriptions: list[dict] = field(default_factory=list)
    hl7: list[dict] = field(default_factory=list)
    queue: list[dict] = field(default_factory=list)  # outbound messages pending or refused, latest first
    available: bool = True


# writes (imports, feeds, edits): the audit trail's reads and searches (every console page's
# too) would push them off a list of the latest events; failures are asked for on their own
WRITES_SEARCH = "AuditEvent?action=C,U,D&_sort=-date&_count=50"
FAILURES_SEARCH = "AuditEvent?outcome=4,8,12&_sort=-date&_count=50"


def build(source: Source) -> Monitor:
    monitor = Monitor()
    monitor.imports = [import_row(event) for event in source.search(IMPORTS_SEARCH)]
    monitor.events = [event_row(event) for event in source.search(WRITES_SEARCH)]
    monitor.failures = [event_row(event) for event in source.search(FAILURES_SEARCH)]
    monitor.hl7 = [hl7_row(event) for event in source.search(HL7_SEARCH)]
    monitor.queue = outbound_queue(source.search(QUEUE_SEARCH))
    monitor.subscriptions = [{"id": s["id"], "criteria": s.get("criteria", ""), "status": s.get("status", ""),
                              "error": s.get("error", ""),
                              "endpoint": (s.get("channel") or {}).get("endpoint", "")}
                             for s in source.search("Subscription?_count=50")]
    return monitor


def event_row(event: dict) -> dict:
    agents = [display(a.get("who")) or (a.get("who") or {}).get("identifier", {}).get("value", "")
              for a in event.get("agent") or []]
    return {"when": (event.get("recorded") or "")[:19].replace("T", " "),
            "what": concept_text(event.get("type")) + (" " + (event.get("action") or "")),
            "subtype": ", ".join(concept_text({"coding": [c]}) for c in event.get("subtype") or []),
            "who": ", ".join(a for a in agents if a),
            "outcome": OUTCOMES.get(event.get("outcome", ""), event.get("outcome", "")),
            "detail": event.get("outcomeDesc", "")}


def import_row(event: dict) -> dict:
    """One import run: when, the form, the file, its counts and the refused rows in words."""
    entity = (event.get("entity") or [{}])[0]
    counts = {d.get("type"): d.get("valueString", "") for d in entity.get("detail") or []}
    return {"when": (event.get("recorded") or "")[:19].replace("T", " "),
            "form": ", ".join(c.get("display") or c.get("code", "") for c in event.get("subtype") or []),
            "file": entity.get("name") or (entity.get("what") or {}).get("identifier", {}).get("value", ""),
            "rows": counts.get("rows", ""), "rejected": counts.get("rejected", ""),
            "written": sum(int(counts.get(k) or 0) for k in ("created", "updated", "unchanged")
                           if (counts.get(k) or "0").isdigit()),
            "ok": event.get("outcome") == "0",
            "outcome": OUTCOMES.get(event.get("outcome", ""), event.get("outcome", "")),
            "detail": event.get("outcomeDesc", "")}


def hl7_row(event: dict) -> dict:
    """One HL7 v2 message: when, direction, type, peer, control id, ACK code and what was written
    (a Patient links to the resident view)."""
    entities = event.get("entity") or []
    message: dict = next((e for e in entities if (e.get("what") or {}).get("identifier")), {})
    detail = {d.get("type"): d.get("valueString") for d in message.get("detail") or []}
    subtype = event.get("subtype") or []
    written = [ref(e.get("what")) for e in entities if ref(e.get("what"))]
    return {"when": (event.get("recorded") or "")[:19].replace("T", " "),
            "inbound": (event.get("type") or {}).get("code") != "110106",
            "type": next((c.get("display") for c in subtype if c.get("display")), "")
            or "^".join(c.get("code", "") for c in subtype),
            "peer": message.get("name") or ", ".join(display(a.get("who")) for a in event.get("agent") or []),
            "control_id": (message.get("what") or {}).get("identifier", {}).get("value", ""),
            "ack": detail.get("ACK") or ("" if detail.get("status") == "pending"
                                         else ACKS.get(event.get("outcome", ""), "")),
            "status": detail.get("status") or "", "attempts": detail.get("attempts") or "",
            "ok": event.get("outcome") == "0",
            "detail": event.get("outcomeDesc", ""),
            "written": [{"reference": r, "patient": r.split("/", 1)[1] if r.startswith("Patient/") else None}
                        for r in written]}


def outbound_queue(events: list[dict]) -> list[dict]:
    """The outbound messages whose latest record (events newest first) leaves them pending (no ACK
    yet, retried) or refused (AE/AR, waiting for ``jiayi hl7 queue --retry``)."""
    latest: dict[str, dict] = {}
    for event in events:
        row = hl7_row(event)
        latest.setdefault(row["control_id"], row)
    return [row for row in latest.values() if row["status"] in ("pending", "refused")]
