"""ACK messages (original acknowledgment mode): MSH, MSA and one ERR per problem.

ERR follows v2.5+: ERR-2 error location (ERL: segment^sequence^field^repetition^component),
ERR-3 HL7 error code (table 0357), ERR-4 severity (table 0516), ERR-7 diagnostic text,
ERR-8 user message.  For v2.3/2.4 receivers ERR-1 (segment^sequence^field^code&text)
is filled as well.  The ACK uses the version and character set of the message it answers.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import os
import re
from collections.abc import Sequence

from .er7 import CHARSETS, Message, build_segment, encode, escape
from .errors import TEXTS, Problem

_URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s'\"<>)\]]+", re.IGNORECASE)
_HOST_PORT = re.compile(r"\b(?:host|host=|address)\s*=?\s*'?[\w.-]+'?,?\s*port\s*=?\s*\d+", re.IGNORECASE)
_counter = itertools.count(1)


def public_text(text: str) -> str:
    """A diagnostic as a peer may see it: URLs of internal services (the FHIR server, a token
    endpoint) and host/port pairs are trimmed, so an ACK does not map the network behind it."""
    text = _URL.sub("[server]", text)
    return _HOST_PORT.sub("[server]", text)

_PREFIX = f"{os.getpid():x}"


def control_id() -> str:
    """A message control id unique within this process (and practically across restarts)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d%H%M%S%f")
    return f"J{stamp}{_PREFIX}{next(_counter):05d}"[:50]


def now_ts() -> str:
    return _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=8))).strftime("%Y%m%d%H%M%S+0800")


def ack(message: Message | None, code: str, problems: Sequence[Problem] = (), text: str = "",
        application: str = "JIAYI", facility: str = "JIAYI") -> bytes:
    """The ACK answering ``message`` (None when it could not even be parsed) as wire bytes."""
    version = (message.version if message and message.version else "2.5")
    charset = (message.msh.get(18) if message else "") or "UNICODE UTF-8"
    if charset.upper() not in CHARSETS:
        charset = "UNICODE UTF-8"
    trigger = message.trigger if message else ""
    header = "|".join([
        "MSH", "^~\\&",
        escape(message.receiving_application if message and message.receiving_application else application),
        escape(message.receiving_facility if message and message.receiving_facility else facility),
        escape(message.sending_application if message else ""), escape(message.sending_facility if message else ""),
        now_ts(), "", f"ACK^{trigger}^ACK" if trigger else "ACK", control_id(),
        (message.msh.get(11) if message else "") or "P", version, "", "", "", "", "", charset])
    summary = public_text(text or "; ".join(p.describe() for p in problems if p.severity == "E") or (
        "accepted" if code in ("AA", "CA") else "rejected"))
    segments = [header, build_segment("MSA", code, message.control_id if message else "", summary[:80])]
    old = version.startswith(("2.3", "2.4"))
    for p in problems:
        loc = p.location
        diagnostic = public_text(p.text)
        err1 = [loc.segment, str(loc.sequence), "" if loc.field is None else str(loc.field),
                [p.code, TEXTS.get(p.code, "")]] if old else None
        segments.append(build_segment(
            "ERR", err1, loc.parts(), [p.code, TEXTS.get(p.code, ""), "HL70357"], p.severity, None, None,
            diagnostic[:250], diagnostic))
    return encode(segments, charset)


def ack_code(raw: bytes) -> tuple[str, str]:
    """(MSA-1, MSA-3) of an ACK received from a peer; ('', '') when unreadable."""
    from .er7 import parse

    try:
        message = parse(raw)
    except Exception:  # noqa: BLE001 - a peer's broken ACK is reported, not raised
        return "", ""
    msa = message.first("MSA")
    if msa is None:
        return "", ""
    return msa.get(1).upper(), msa.get(3)
