"""What the MLLP listener does with one message: ACK it, exactly once.

1. Decode and parse (MSH-18 character set); unreadable → AR.
2. The same MSH-10 from the same sender (MSH-3/MSH-4) seen before → the original ACK,
   nothing processed (remembered in the state file, so across restarts too).
3. Convert to one transaction Bundle (unsupported type/version → AR; bad content → AE).
4. Patients that the message updates (ADT conditional updates) are merged with what the
   server holds, so elements the message does not carry (Jiayi's extensions, other
   identifiers, links) are kept.
5. POST the transaction: all or nothing.  4xx → AE naming the segment the failing entry
   came from; no answer, 5xx or a transient refusal (409 "database busy", 429, 503: the
   client retries them first) → AR that is *not* remembered, so the sender's resend is
   processed.  Only final answers are remembered: AA, AE for bad content, AR for an
   unsupported message.
6. AA (with ERR warnings for values left out); the referral Tasks written are remembered
   with the endpoint that sent them, for the outbound worker.

Each message's outcome (not a duplicate's) is recorded on the server as an AuditEvent when the
listener has a :class:`~adapters.hl7v2.message_audit.Recorder` (from its own thread: never
failing nor delaying the ACK).

A listener configured with an allow-list of senders (``Config.allowed_senders``) answers AR
to any other MSH-3/MSH-4 (not remembered, nothing processed).  Searches go by POST
``_search`` so identifiers (身份证号) stay out of URLs and the server's access log.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from urllib.parse import parse_qs

from ..fhir_client import FhirClient, ServerRefused, ServerUnavailable
from . import er7, inbound
from .ack import ack
from .config import Config
from .errors import APPLICATION_INTERNAL_ERROR, UNKNOWN_KEY, VALUE_TOO_LONG, HL7Error, Location, Problem
from .message_audit import Recorder, ack_outcome, message_event
from .state import State

log = logging.getLogger("jiayi.hl7.listener")
_ENTRY = re.compile(r"entry\[(\d+)\]|entry (\d+)")


def endpoint_key(config: Config, msg: er7.Message) -> str:
    endpoint = config.sender_endpoint(msg.sending_application, msg.sending_facility)
    return endpoint.name if endpoint else f"sender:{msg.sender}"


def merge_patient(existing: dict, incoming: dict) -> dict:
    """The incoming Patient over the existing one: identifiers, extensions and links are united
    (incoming wins per system / url / other); other elements the message sets replace the old ones."""
    merged = {k: copy.deepcopy(v) for k, v in existing.items() if k not in ("meta", "text", "id")}
    for key, value in incoming.items():
        if key == "identifier":
            ids = list(merged.get("identifier", []))
            for identifier in value:
                if not any(i.get("system") == identifier["system"] and i.get("value") == identifier["value"]
                           for i in ids):
                    ids.append(identifier)
            merged["identifier"] = ids
        elif key == "extension":
            urls = {e["url"] for e in value}
            merged["extension"] = [e for e in merged.get("extension", []) if e.get("url") not in urls] + value
        elif key == "link":
            others = {link["other"].get("reference") for link in value}
            merged["link"] = [link for link in merged.get("link", [])
                              if link.get("other", {}).get("reference") not in others] + value
        else:
            merged[key] = value
    if "deceasedDateTime" in incoming:
        merged.pop("deceasedBoolean", None)
    if "deceasedBoolean" in incoming:
        merged.pop("deceasedDateTime", None)
    return merged


class Listener:
    def __init__(self, server: FhirClient, state: State, config: Config | None = None,
                 recorder: Recorder | None = None) -> None:
        self.server = server
        self.recorder = recorder
        self.state = state
        self.config = config or Config()
        self._locks = [threading.Lock() for _ in range(64)]  # striped: bounded, one key always one lock

    def _lock(self, key: tuple[str, str]) -> threading.Lock:
        """Messages with the same sender and control id are processed one after the other."""
        return self._locks[hash(key) % len(self._locks)]

    # --- the MLLP handler ---------------------------------------------------------------
    def handle(self, raw: bytes) -> bytes:
        try:
            return self._handle(raw)
        except Exception as exc:
            log.exception("message not processed")
            problem = Problem(APPLICATION_INTERNAL_ERROR, f"not processed: {type(exc).__name__}")
            return ack(_header_only(raw), "AR", [problem], application=self.config.application,
                       facility=self.config.facility)

    def _handle(self, raw: bytes) -> bytes:
        written: list[str] = []
        reply, msg = self._answer(raw, written)
        if msg is not None and self.recorder is not None:
            self._record(self.recorder, msg, reply, written)
        return reply

    def _record(self, recorder: Recorder, msg: er7.Message, reply: bytes, written: list[str]) -> None:
        try:
            code, detail = ack_outcome(reply)
            observer = "|".join(x for x in (self.config.application, self.config.facility) if x) or "Jiayi HL7 v2"
            recorder.record(message_event(msg, code, observer=observer, written=written, detail=detail))
        except Exception:  # noqa: BLE001 - the ACK goes out whatever happens to its record
            log.exception("AuditEvent of %s not recorded", msg.control_id)

    def _answer(self, raw: bytes, written: list[str]) -> tuple[bytes, er7.Message | None]:
        """The ACK, and the message when its outcome is to be recorded (not for duplicates)."""
        try:
            msg = er7.parse(raw)
        except HL7Error as exc:
            return ack(_header_only(raw), exc.ack_code, exc.problems,
                       application=self.config.application, facility=self.config.facility), None
        if not self.config.accepts(msg.sending_application, msg.sending_facility):
            log.warning("message from a sender not on the allow-list refused")
            problem = Problem(APPLICATION_INTERNAL_ERROR, "this listener does not accept messages from this sending "
                              "application/facility", Location("MSH", 1, 4))
            return self._ack(msg, "AR", [problem]), msg
        key = (msg.sender, msg.control_id)
        with self._lock(key):
            if msg.control_id:
                previous = self.state.ack_for(*key)
                if previous is not None:
                    log.info("duplicate %s from %s: original ACK re-sent", msg.control_id, msg.sender)
                    return previous, None
            reply, remember = self._process(msg, written)
            if remember and msg.control_id:
                self.state.remember_ack(msg.sender, msg.control_id, reply, remember)
            return reply, msg

    def oversize(self, head: bytes) -> bytes | None:
        try:
            msg = er7.parse(head.split(b"\r", 1)[0] + b"\r")
        except HL7Error:
            msg = None
        problem = Problem(VALUE_TOO_LONG, "the message is larger than this listener accepts", Location("MSH", 1))
        return ack(msg, "AR", [problem], application=self.config.application, facility=self.config.facility)

    def _ack(self, msg: er7.Message, code: str, problems: list[Problem], text: str = "") -> bytes:
        return ack(msg, code, problems, text, application=self.config.application, facility=self.config.facility)

    def _process(self, msg: er7.Message, written: list[str]) -> tuple[bytes, str | None]:
        """(ACK, code to remember it under or None when the sender should retry); ``written``
        gets the resources the transaction wrote."""
        try:
            conv = inbound.convert(msg, lenient=self.config.lenient_for(msg.sending_application,
                                                                         msg.sending_facility))
        except HL7Error as exc:
            return self._ack(msg, exc.ack_code, exc.problems), exc.ack_code
        except Exception as exc:  # a fault of the adapter, not of the message: not remembered
            log.exception("conversion of %s from %s failed", msg.control_id, msg.sender)
            problem = Problem(APPLICATION_INTERNAL_ERROR, f"conversion failed: {type(exc).__name__}")
            return self._ack(msg, "AR", [problem]), None
        bundle = conv.bundle()
        try:
            self._merge_patients(bundle)
            self._walk_task_states(bundle)
            response = self.server.transaction(bundle)
        except ServerUnavailable as exc:
            log.warning("server unavailable for %s: %s", msg.control_id, exc)
            problem = Problem(APPLICATION_INTERNAL_ERROR, f"FHIR server unavailable, send again later: {exc}")
            return self._ack(msg, "AR", [problem]), None
        except ServerRefused as exc:
            if exc.status == 412 and any("version" in text.lower() or "match" in text.lower()
                                         for text, _ in exc.diagnostics()):
                problem = Problem(APPLICATION_INTERNAL_ERROR, "the record changed while this message was processed; "
                                  f"send it again ({exc})", Location("PID", 1, 3))
                return self._ack(msg, "AR", [problem]), None  # not remembered: the resend is processed
            problems = []
            for text, expressions in exc.diagnostics():
                entry = _entry_of(conv, expressions)
                unknown = exc.status in (404, 412) and entry is not None and entry["request"]["method"] == "PATCH"
                location = conv.origin(entry) if entry is not None else Location("MSH", 1)
                problems.append(Problem(UNKNOWN_KEY if unknown else APPLICATION_INTERNAL_ERROR,
                                        f"FHIR server refused the message: {text}"[:1000], location, "E"))
            return self._ack(msg, "AE", problems + conv.warnings), "AE"
        written.extend(_written(response))
        self._remember_tasks(msg, conv, bundle, response)
        return self._ack(msg, "AA", conv.warnings), "AA"

    def _merge_patients(self, bundle: dict) -> None:
        for entry in bundle["entry"]:
            request = entry["request"]
            if (entry["resource"]["resourceType"] != "Patient" or request["method"] != "PUT"
                    or "?" not in request["url"]):
                continue
            found = self.server.search(request["url"])
            if len(found) == 1:  # update that very version (a concurrent change → 412 → AE, sent again)
                entry["resource"] = dict(merge_patient(found[0], entry["resource"]), id=found[0]["id"])
                entry["request"] = {"method": "PUT", "url": f"Patient/{found[0]['id']}"}
                version = found[0].get("meta", {}).get("versionId")
                if version:
                    entry["request"]["ifMatch"] = f'W/"{version}"'


    def _walk_task_states(self, bundle: dict) -> None:
        """An RRI reports where the referral stands now (e.g. completed); the referral state machine
        moves one step at a time (accepted → in-progress → completed).  The steps the report implies
        are written first, each its own small transaction, so the message's transaction is one
        allowed transition.  (Those steps are true even if the message's transaction then fails.)"""
        for entry in bundle["entry"]:
            request = entry["request"]
            if request["method"] != "PATCH" or not request["url"].startswith("Task?"):
                continue
            target = _patched_status(entry["resource"])
            if not target:
                continue
            found = self.server.search(request["url"])
            if len(found) != 1:
                continue  # the message's transaction reports it
            for step in implied_steps(found[0].get("status", ""), target):
                self.server.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [{
                    "resource": {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
                        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Task.status"},
                        {"name": "value", "valueCode": step}]}]},
                    "request": {"method": "PATCH", "url": f"Task/{found[0]['id']}"}}]})

    def _remember_tasks(self, msg: er7.Message, conv: inbound.Conversion, bundle: dict, response: dict) -> None:
        if not conv.tasks:
            return
        endpoint = endpoint_key(self.config, msg)
        locations = {}
        for entry, answer in zip(bundle["entry"], response.get("entry", []), strict=False):
            location = answer.get("response", {}).get("location", "")
            parts = location.split("/")
            if "_history" in parts:
                parts = parts[:parts.index("_history")]
            locations[entry["fullUrl"]] = "/".join(parts[-2:])
            if entry["request"]["method"] == "PATCH":
                locations[entry["request"]["url"]] = "/".join(parts[-2:])
        for task in conv.tasks:
            where = locations.get(task.get("fullUrl") or task.get("criteria"))
            if not where and "criteria" in task:  # a PATCH answers without a location: look the Task up
                try:
                    found = self.server.search(task["criteria"])
                except (ServerRefused, ServerUnavailable):
                    found = []
                where = f"Task/{found[0]['id']}" if len(found) == 1 else None
            if not where or not where.startswith("Task/"):
                continue
            if "fullUrl" in task:
                self.state.remember_task(where, endpoint, "requester", task["status"])
            elif task["status"]:
                known = self.state.tasks_of(where)
                role = next((r for e, r, *_ in known if e == endpoint), "owner")
                self.state.remember_task(where, endpoint, role, task["status"])


# The referral Task's forward path (SPEC §3 jiayi-referral-task): a status reported by a message
# implies the ones before it on this path.
FORWARD = ("requested", "received", "accepted", "in-progress", "completed")


def implied_steps(current: str, target: str) -> list[str]:
    """The statuses between ``current`` and ``target`` that the referral state machine needs."""
    if target == "failed":
        target_index = FORWARD.index("in-progress") + 1
    elif target in FORWARD:
        target_index = FORWARD.index(target)
    else:
        return []
    if current not in FORWARD:
        return []
    start = FORWARD.index(current)
    steps = list(FORWARD[start + 1:target_index])
    if steps and steps[0] == "received" and target != "received":
        steps = steps[1:]  # requested → accepted is allowed directly
    return steps


def _patched_status(parameters: dict) -> str | None:
    for operation in parameters.get("parameter", []):
        parts = {p["name"]: p for p in operation.get("part", [])}
        if parts.get("type", {}).get("valueCode") == "replace" and \
                parts.get("path", {}).get("valueString") == "Task.status":
            return parts.get("value", {}).get("valueCode")
    return None


def _written(response: dict) -> list[str]:
    """Type/id of each resource a transaction-response names (its entries' locations)."""
    out: list[str] = []
    for answer in response.get("entry") or []:
        parts = str((answer.get("response") or {}).get("location") or "").split("/")
        if "_history" in parts:
            parts = parts[:parts.index("_history")]
        if len(parts) >= 2 and parts[-2] and parts[-1]:
            reference = "/".join(parts[-2:])
            if reference not in out:
                out.append(reference)
    return out


def _entry_of(conv: inbound.Conversion, expressions: list[str]) -> dict | None:
    for expression in expressions:
        m = _ENTRY.search(expression)
        if m:
            index = int(m.group(1) or m.group(2))
            if index < len(conv.entries):
                return conv.entries[index]
    return None


def _header_only(raw: bytes) -> er7.Message | None:
    """The MSH of a message that could not be parsed as a whole, to address the AR."""
    try:
        head = re.split(rb"[\r\n]", raw.lstrip(b"\xef\xbb\xbf"), maxsplit=1)[0]
        return er7.Message(head.decode("latin-1"), "latin-1") if head.startswith(b"MSH") else None
    except HL7Error:
        return None


def criteria_of(url: str) -> dict[str, list[str]]:
    return parse_qs(url.split("?", 1)[1]) if "?" in url else {}
