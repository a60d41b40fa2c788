"""The outbound worker: referral Tasks changed on the server → REF^I12 / RRI^I12 to endpoints.

``poll()`` reads ``Task?_lastUpdated=ge<cursor>`` over REST (the first run starts from the
newest Task: what is already on the server is not sent) and, for each Task version not seen
yet:

- a Task whose ``owner`` Organization is served by a configured endpoint and that was
  never exchanged with it → its referral as **REF^I12** to that endpoint;
- a Task the adapter received from an endpoint (the endpoint is the requester side) whose
  status differs from the last status that endpoint knows → **RRI^I12** to it.
  Changes that came in from an endpoint are recorded by the listener, so they are not
  echoed back to where they came from.

Messages are first written to the outbox (state file), then ``deliver()`` sends the
oldest pending message of each endpoint over MLLP: AA/CA → sent; AE/AR → refused (kept,
visible, re-queued by hand); no connection or no ACK → retried with exponential backoff
(``retry.first`` seconds doubling up to ``retry.max``), for as long as it takes.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import quote

from ..fhir_client import FhirClient, ServerRefused, ServerUnavailable
from . import er7
from .ack import ack_code
from .config import Config, Endpoint
from .conversion import REFERRAL_PROFILE, SD, SNOMED
from .message_audit import Recorder, message_event
from .mllp import MLLPClient
from .outbound import Resources, ref_i12, rri_i12
from .state import Outgoing, State

log = logging.getLogger("jiayi.hl7.sender")
CURSOR = "task-lastUpdated"
DIRECTION_URL = SD + "jiayi-referral-direction"


def is_referral(sr: dict) -> bool:
    """A jiayi-referral: claims the profile, carries a direction, or has the referral category (SNOMED 3457005)."""
    if REFERRAL_PROFILE in (sr.get("meta") or {}).get("profile", []):
        return True
    if any(e.get("url") == DIRECTION_URL for e in sr.get("extension", [])):
        return True
    return any(c.get("system") == SNOMED and c.get("code") == "3457005"
               for concept in sr.get("category", []) for c in concept.get("coding", []))


class Sender:
    def __init__(self, server: FhirClient, state: State, config: Config, send_timeout: float = 30.0,
                 recorder: Recorder | None = None) -> None:
        self.server = server
        self.recorder = recorder  # final outcomes (delivered, refused) as AuditEvents on the server
        self.state = state
        self.config = config
        self.send_timeout = send_timeout
        self._org_cache: dict[str, list[dict]] = {}

    # --- polling ------------------------------------------------------------------------
    def poll(self) -> int:
        """Enqueue what changed since the last poll; returns how many messages were queued."""
        since = self.state.cursor(CURSOR)
        if since is None:
            since = self._start_from_now()
            if since is None:
                return 0
        query = "Task?_sort=_lastUpdated&_count=100" + (f"&_lastUpdated=ge{quote(since, safe='')}" if since else "")
        queued = 0
        latest = since
        for task in self.server.search(query):
            meta = task.get("meta", {})
            version_key = f"seen:Task/{task['id']}"
            if self.state.cursor(version_key) == meta.get("versionId"):
                continue
            try:
                queued += self._task(task)
            except (ServerRefused, ServerUnavailable) as exc:
                log.warning("Task/%s not processed yet: %s", task["id"], exc)
                return queued  # the cursor stays: the Task is seen again on the next poll
            self.state.set_cursor(version_key, meta.get("versionId", ""))
            if meta.get("lastUpdated") and (latest is None or meta["lastUpdated"] > latest):
                latest = meta["lastUpdated"]
        if latest and latest != since:
            self.state.set_cursor(CURSOR, latest)
        return queued

    def _start_from_now(self) -> str | None:
        """First run: changes from now on (the Tasks already on the server are history, not news).
        The cursor starts at the newest Task's lastUpdated, that Task counted as seen."""
        newest = self.server.get("Task?_sort=-_lastUpdated&_count=1").get("entry", [])
        if not newest:
            self.state.set_cursor(CURSOR, "1900-01-01T00:00:00Z")
            return "1900-01-01T00:00:00Z"
        meta = newest[0]["resource"].get("meta", {})
        self.state.set_cursor(f"seen:Task/{newest[0]['resource']['id']}", meta.get("versionId", ""))
        self.state.set_cursor(CURSOR, meta.get("lastUpdated", "1900-01-01T00:00:00Z"))
        return self.state.cursor(CURSOR)

    def _org_identifiers(self, reference: dict | None) -> list[dict]:
        ref = (reference or {}).get("reference")
        if not ref or not ref.startswith("Organization/"):
            return []
        if ref not in self._org_cache:
            org = self.server.read(ref) or {}
            self._org_cache[ref] = org.get("identifier", [])
        return self._org_cache[ref]

    def _resources(self, task: dict) -> tuple[Resources, dict | None]:
        res = Resources([task])
        sr = self.server.read(task["focus"]["reference"]) if task.get("focus", {}).get("reference") else None
        if sr is None:
            return res, None
        res.add(sr)
        refs = [sr.get("subject"), sr.get("requester"), task.get("owner"), *sr.get("performer", []),
                *sr.get("reasonReference", []), *[o.get("valueReference") for o in task.get("output", [])]]
        for ref in refs:
            target = (ref or {}).get("reference")
            if target and "/" in target and res.get(ref) is None:
                found = self.server.read(target)
                if found:
                    res.add(found)
                    if found.get("resourceType") == "PractitionerRole":
                        for inner in (found.get("practitioner"), found.get("organization")):
                            if inner and inner.get("reference") and res.get(inner) is None:
                                extra = self.server.read(inner["reference"])
                                if extra:
                                    res.add(extra)
        return res, sr

    def _enqueue(self, endpoint: Endpoint, kind: str, task: dict, builder) -> int:
        res, sr = self._resources(task)
        if sr is None:
            log.warning("Task/%s has no readable focus ServiceRequest; nothing sent", task["id"])
            return 0
        if not is_referral(sr):
            return 0
        control, segments = builder(res, sr, task, sending=(self.config.application, self.config.facility),
                                    receiving=(endpoint.application, endpoint.facility), version=endpoint.version,
                                    charset=endpoint.charset)
        self.state.enqueue(endpoint.name, kind, f"Task/{task['id']}", control,
                           er7.encode(segments, endpoint.charset))
        return 1

    def _task(self, task: dict) -> int:
        task_ref = f"Task/{task['id']}"
        status = task.get("status", "")
        queued = 0
        owner_ids = self._org_identifiers(task.get("owner"))
        known = {endpoint: (role, last) for endpoint, role, last, _ in self.state.tasks_of(task_ref)}
        for endpoint in self.config.endpoints:
            if endpoint.name in known or not endpoint.serves(owner_ids):
                continue
            if status in ("draft", "cancelled", "entered-in-error"):
                continue
            sent = self._enqueue(endpoint, "REF^I12", task, ref_i12)
            if sent:
                self.state.remember_task(task_ref, endpoint.name, "owner", status)
            queued += sent
        for name, (role, last) in known.items():
            requester_side = self.config.by_name(name)
            if requester_side is None or role != "requester" or last == status:
                continue
            queued += self._enqueue(requester_side, "RRI^I12", task, rri_i12)
            self.state.remember_task(task_ref, name, role, status)
        return queued

    # --- delivery -----------------------------------------------------------------------
    def backoff(self, attempts: int) -> float:
        return min(self.config.retry_first * (2 ** max(attempts, 0)), self.config.retry_max)

    def deliver(self) -> int:
        """Try every due message once; returns how many were delivered (AA)."""
        delivered = 0
        for item in self.state.due():
            endpoint = self.config.by_name(item.endpoint)
            if endpoint is None:
                self._failed(item, f"endpoint {item.endpoint!r} is not configured", self.config.retry_max)
                continue
            try:
                with MLLPClient(endpoint.host, endpoint.port, timeout=self.send_timeout) as client:
                    reply = client.send(item.message)
            except (OSError, ConnectionError) as exc:
                delay = self.backoff(item.attempts)
                self._failed(item, f"{type(exc).__name__}: {exc}", delay)
                log.info("message %s to %s not delivered (%s); next attempt in %.0f s", item.id, item.endpoint,
                         exc, delay)
                continue
            except Exception as exc:  # noqa: BLE001 - a framing problem of the peer: retried like a network error
                self._failed(item, f"{type(exc).__name__}: {exc}", self.backoff(item.attempts))
                continue
            code, text = ack_code(reply)
            if code in ("AA", "CA"):
                self.state.mark_sent(item.id, code)
                self._record(item, code, "", "sent")
                delivered += 1
            elif code in ("AE", "AR", "CE", "CR"):
                self.state.mark_refused(item.id, code, text or "refused by the receiver")
                self._record(item, code, text or "refused by the receiver", "refused")
            else:
                self._failed(item, "no readable ACK", self.backoff(item.attempts))
        return delivered

    def _failed(self, item: Outgoing, error: str, delay: float) -> None:
        """An attempt that got no ACK: retried after ``delay``; recorded, so the integration
        monitor shows the message pending with its attempts and this error."""
        self.state.mark_failed_attempt(item.id, error, delay)
        self._record(item, "", error, "pending")

    def _record(self, item: Outgoing, code: str, text: str, status: str) -> None:
        if self.recorder is None:
            return
        try:
            observer = "|".join(x for x in (self.config.application, self.config.facility) if x) or "Jiayi HL7 v2"
            written = [item.about] if "/" in item.about else []
            self.recorder.record(message_event(er7.parse(item.message), code, observer=observer, inbound=False,
                                               written=written, detail=text, queue=(status, item.attempts + 1)))
        except Exception:  # noqa: BLE001 - the queue goes on whatever happens to the record
            log.exception("AuditEvent of outbound message %s not recorded", item.id)

    def run(self, interval: float = 5.0, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.poll()
            except (ServerRefused, ServerUnavailable) as exc:
                log.warning("polling the server failed: %s", exc)
            self.deliver()
            stop.wait(interval)


def start(sender: Sender, interval: float) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(interval, stop), name="hl7-sender", daemon=True)
    thread.start()
    return thread, stop


def wait_idle(sender: Sender, timeout: float) -> None:  # pragma: no cover - a helper for scripts
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sender.state.due():
        time.sleep(0.1)
