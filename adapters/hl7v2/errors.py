"""Problems found in a message, as the ACK's ERR segments name them.

An :class:`HL7Error` carries the HL7 error code (table 0357), the location (ERL: segment,
segment sequence, field, repetition, component) and a human text.  ``AR`` (application
reject) is for messages the adapter does not take at all (unsupported type, version or
character set, a broken header); ``AE`` (application error) for messages whose content
could not be stored.  Warnings (severity ``W``) ride on an ``AA``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# HL7 table 0357 (message error condition codes)
SEGMENT_SEQUENCE = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
VALUE_TOO_LONG = "104"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_EVENT_CODE = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION = "203"
UNKNOWN_KEY = "204"
DUPLICATE_KEY = "205"
APPLICATION_RECORD_LOCKED = "206"
APPLICATION_INTERNAL_ERROR = "207"

TEXTS = {
    "0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
    "102": "Data type error", "103": "Table value not found", "104": "Value too long",
    "200": "Unsupported message type", "201": "Unsupported event code", "202": "Unsupported processing id",
    "203": "Unsupported version id", "204": "Unknown key identifier", "205": "Duplicate key identifier",
    "206": "Application record locked", "207": "Application internal error",
}


@dataclass(frozen=True)
class Location:
    """ERL: segment id, its sequence among segments of that id (1-based), field, repetition, component."""

    segment: str = "MSH"
    sequence: int = 1
    field: int | None = None
    repetition: int | None = None
    component: int | None = None

    def parts(self) -> list[str]:
        values = [self.segment, str(self.sequence), self.field, self.repetition, self.component]
        out = ["" if v is None else str(v) for v in values]
        while out and out[-1] == "":
            out.pop()
        return out

    def __str__(self) -> str:
        text = f"{self.segment}"
        if self.sequence != 1:
            text += f"[{self.sequence}]"
        if self.field is not None:
            text += f"-{self.field}"
            if self.repetition not in (None, 1):
                text += f"({self.repetition})"
            if self.component is not None:
                text += f".{self.component}"
        return text


@dataclass(frozen=True)
class Problem:
    code: str
    text: str
    location: Location = field(default_factory=Location)
    severity: str = "E"  # E error | W warning | I information (table 0516)

    def describe(self) -> str:
        return f"{self.location}: {self.text}"


class HL7Error(Exception):
    """A message that cannot be processed: ``ack_code`` AE or AR, with its problems."""

    def __init__(self, problems: list[Problem] | Problem, ack_code: str = "AE") -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.ack_code = ack_code
        super().__init__("; ".join(p.describe() for p in self.problems))


def reject(code: str, text: str, location: Location | None = None) -> HL7Error:
    return HL7Error(Problem(code, text, location or Location()), ack_code="AR")


def error(code: str, text: str, location: Location | None = None) -> HL7Error:
    return HL7Error(Problem(code, text, location or Location()), ack_code="AE")
