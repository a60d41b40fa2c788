"""Each HL7 v2 message's outcome recorded on the server as an AuditEvent (issue 22: the
integration monitor reads them through the FHIR API).

type DICOM 110107 Import (inbound) or 110106 Export (outbound); subtype the message type as
HL7 v2 table codes (0076 message code, 0003 trigger event; the display is e.g. ``ADT^A04``);
outcome 0/4/8 from the ACK code AA/AE/AR (an outbound message also gets its outbox status and
attempts as entity details, and each failed attempt to deliver it is recorded too, outcome 4
"restarted", status pending, the error as outcomeDesc); source observer the listener (MSH-3/MSH-4 it answers
as); the sender as the requesting agent; entities: the message (MSH-10 as ``what.identifier``,
the sender's MSH-3|MSH-4 as its assigner and name) and the resources written.

A :class:`Recorder` posts them from its own thread: recording never fails nor delays an ACK
(a refusal is logged and the event dropped)."""

from __future__ import annotations

import datetime as _dt
import logging
import queue
import threading
import time

from ..fhir_client import FhirClient
from . import er7

log = logging.getLogger("jiayi.hl7.audit")

DCM = "http://dicom.nema.org/resources/ontology/DCM"
IMPORT = {"system": DCM, "code": "110107", "display": "Import"}
EXPORT = {"system": DCM, "code": "110106", "display": "Export"}
MESSAGE_CODE = "http://terminology.hl7.org/CodeSystem/v2-0076"
TRIGGER_EVENT = "http://terminology.hl7.org/CodeSystem/v2-0003"
CONTROL_ID = "https://jiayi.dev/fhir/sid/hl7v2-control-id"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
OUTCOMES = {"AA": "0", "CA": "0", "AE": "4", "CE": "4", "AR": "8", "CR": "8"}
MAX_QUEUED = 1000


def message_event(msg: er7.Message, ack_code: str, *, observer: str, inbound: bool = True,
                  written: list[str] | None = None, detail: str = "", recorded: _dt.datetime | None = None,
                  queue: tuple[str, int] | None = None) -> dict:
    """The AuditEvent of one message and its ACK (pure data); ``queue``: an outbound message's
    (status, attempts) in the outbox: sent, refused, or pending (no ACK yet: outcome 4, the
    action is retried; ``detail`` the error of the last attempt)."""
    recorded = recorded or _dt.datetime.now(_dt.UTC)
    subtype = [{"system": MESSAGE_CODE, "code": msg.message_code, "display": msg.type}]
    if msg.trigger:
        subtype.append({"system": TRIGGER_EVENT, "code": msg.trigger, "display": msg.type})
    peer = msg.sender if inbound else f"{msg.receiving_application}|{msg.receiving_facility}"
    event: dict = {
        "resourceType": "AuditEvent",
        "type": IMPORT if inbound else EXPORT,
        "subtype": subtype,
        "action": "C" if inbound else "R",
        "recorded": recorded.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "outcome": OUTCOMES.get(ack_code, "8"),
        "agent": [{"type": {"coding": [{"system": DCM, "code": "110153" if inbound else "110152",
                                        "display": "Source Role ID" if inbound else "Destination Role ID"}]},
                   "who": {"display": peer}, "requestor": inbound}],
        "source": {"observer": {"display": observer},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
        "entity": [{"what": {"identifier": {"system": CONTROL_ID, "value": msg.control_id,
                                            "assigner": {"display": msg.sender}}},
                    "type": {"system": ENTITY_TYPE, "code": "2"}, "role": {"system": OBJECT_ROLE, "code": "20"},
                    "name": peer, "detail": [{"type": "ACK", "valueString": ack_code}]}],
    }
    if queue is not None:
        status, attempts = queue
        message = event["entity"][0]
        if status == "pending":
            event["outcome"], message["detail"] = "4", []
        message["detail"] += [{"type": "status", "valueString": status},
                              {"type": "attempts", "valueString": str(attempts)}]
    if detail:
        event["outcomeDesc"] = detail[:500]
    event["entity"] += [{"what": {"reference": reference}, "type": {"system": ENTITY_TYPE, "code": "2"},
                         "role": {"system": OBJECT_ROLE, "code": "4"}} for reference in (written or [])[:100]]
    return event


def ack_outcome(reply: bytes) -> tuple[str, str]:
    """(MSA-1, the ERR user messages / MSA-3 joined) of an ACK."""
    try:
        ack = er7.parse(reply)
    except Exception:  # noqa: BLE001 - an ACK this adapter built; never fail over it
        return "AR", ""
    msa = ack.first("MSA")
    texts = [msa.get(3) if msa else "", *(seg.get(8) or seg.get(7) for seg in ack.all("ERR"))]
    return (msa.get(1) if msa else "AR"), "; ".join(dict.fromkeys(t for t in texts if t))  # once each


class Recorder:
    """POSTs AuditEvents from one background thread (``background=False``: at once, for tests);
    a full queue or a refusal is logged, never raised."""

    def __init__(self, server: FhirClient, background: bool = True) -> None:
        self.server = server
        self.background = background
        self._queue: queue.Queue[dict] = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(self, event: dict) -> None:
        if not self.background:
            self._post(event)
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("AuditEvent of message %s dropped: %d waiting", _control_id(event), MAX_QUEUED)
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hl7-audit", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Wait until every queued event has been posted (or dropped)."""
        self._queue.join()

    def drain(self, timeout: float) -> int:
        """At shutdown: wait up to ``timeout`` seconds for the queue to empty; how many are left."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        left = self._queue.unfinished_tasks
        if left:
            log.warning("%d AuditEvents of messages not recorded at exit", left)
        return left

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                self._post(event)
            finally:
                self._queue.task_done()

    def _post(self, event: dict) -> None:
        try:
            self.server.create(event)
        except Exception as exc:  # noqa: BLE001 - recording must never break message handling
            log.warning("AuditEvent of message %s not recorded: %s", _control_id(event), exc)


def _control_id(event: dict) -> str:
    return event["entity"][0]["what"]["identifier"]["value"]
