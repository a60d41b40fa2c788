"""What every inbound message conversion shares: the names it writes, conditional-write
criteria, and :class:`Conversion`, the transaction Bundle being built with its warnings and
the segment each entry came from."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

from . import datatypes as dt
from .er7 import Message, Segment
from .errors import (
    DATA_TYPE_ERROR,
    HL7Error,
    Location,
    Problem,
)

SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = dt.CS
SID = dt.SID
MESSAGE_SID = SID + "hl7v2-message"
FACILITY_SID = SID + "hl7v2-facility"
REFERRAL_PROFILE = SD + "jiayi-referral"
REFERRAL_TASK_PROFILE = SD + "jiayi-referral-task"
OWN_NAMESPACE = "JIAYI"  # EI namespace of Jiayi's own ids in messages it sends (RF1-6 = id^JIAYI)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
REFERRAL_CATEGORY = {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}],
                     "text": "转诊"}
_NS = uuid.UUID("6b0d7c1e-3c55-4f5e-9a59-3f1c2d0e7a11")
_DIRECTIONS = {"upward": ("upward", "上转"), "downward": ("downward", "下转"), "lateral": ("lateral", "平转"),
               "上转": ("upward", "上转"), "下转": ("downward", "下转"), "平转": ("lateral", "平转"),
               "UP": ("upward", "上转"), "DOWN": ("downward", "下转"), "LAT": ("lateral", "平转")}
_GB3304 = CS + "gb3304"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")



def token(system: str, value: str) -> str:
    """A token search value ``system|value`` with the search escapes, URL-encoded."""
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$").replace("|", "\\|")

    return quote(f"{esc(system)}|{esc(value)}", safe="")


def criteria(resource_type: str, identifier: dict) -> str:
    return f"{resource_type}?identifier={token(identifier['system'], identifier['value'])}"


class Conversion:
    """The Bundle being built for one message, with the warnings met on the way."""

    def __init__(self, message: Message, lenient: bool = False) -> None:
        self.msg = message
        self.lenient = lenient
        self.entries: list[dict] = []
        self.warnings: list[Problem] = []
        self.errors: list[Problem] = []  # values that are not of their data type (strict: the message gets AE)
        self.facility = message.sending_facility or message.sending_application or "unknown"
        self.receiver = message.receiving_facility or message.receiving_application or "unknown"
        self.patient_ref: dict | None = None
        self.tasks: list[dict] = []  # what the listener must remember about referral Tasks it writes
        self.tags: dict[str, str] = {}  # full URL → what made the entry (see origin())

    # --- bookkeeping --------------------------------------------------------------------
    def full_url(self, tag: str) -> str:
        return "urn:uuid:" + str(uuid.uuid5(_NS, f"{self.msg.sender}|{self.msg.control_id}|{tag}"))

    def message_identifier(self, tag: str) -> dict:
        return {"system": MESSAGE_SID, "value": f"{self.msg.sender}/{self.msg.control_id}/{tag}"}

    def warn(self, segment: Segment, field: int | None, text: str, component: int | None = None) -> None:
        self.warnings.append(Problem(DATA_TYPE_ERROR, text, segment.location(field, None, component), "W"))

    def invalid(self, segment: Segment, field: int | None, text: str, component: int | None = None,
                repetition: int | None = None, code: str = DATA_TYPE_ERROR) -> None:
        """A value that is not valid for its data type (HL7 error 102) or not in its table (103):
        an error that refuses the message, or, on a lenient endpoint, a warning (severity W) and
        the value is left out."""
        location = segment.location(field, repetition, component)
        if self.lenient:
            self.warnings.append(Problem(code, f"{text}; left out", location, "W"))
        else:
            self.errors.append(Problem(code, text, location, "E"))

    def timestamp(self, segment: Segment | None, field: int, date_only: bool = False, what: str = "") -> str | None:
        """The TS/DT of ``segment``-``field`` as FHIR, None when empty; an invalid value is reported."""
        if segment is None:
            return None
        raw = segment.get(field)
        if not raw:
            return None
        value = dt.ts(raw, date_only=date_only)
        if value is None:
            kind = "date" if date_only else "timestamp (YYYYMMDD[HHMM[SS]][+ZZZZ])"
            self.invalid(segment, field, f"{what or segment.id + '-' + str(field)} {raw!r} is not a valid {kind}")
        return value

    def check(self) -> None:
        """Raise the AE for the invalid values met, all of them in one ACK."""
        if self.errors:
            raise HL7Error(self.errors + self.warnings, "AE")

    def fail(self, code: str, text: str, location: Location) -> HL7Error:
        return HL7Error(Problem(code, text, location), "AE")

    def origin(self, entry: dict) -> Location:
        """The segment and field an entry of the Bundle comes from (for ERR-2 when the server refuses it)."""
        tag = self.tags.get(entry.get("fullUrl", ""), "")
        for prefix, location in (("patient", Location("PID", 1, 3)), ("merged", Location("MRG", 1, 1)),
                                 ("encounter", Location("PV1", 1, 19)), ("return", Location("RF1", 1, 11)),
                                 ("referral", Location("RF1", 1, 6)), ("task", Location("RF1", 1, 6)),
                                 ("practitioner", Location("PRD", 1, 7)), ("org", Location("PRD", 1, 10))):
            if tag.startswith(prefix):
                return location
        m = re.match(r"^(OBX|OBR|DG1)-(\d+)", tag)
        if m:
            return Location(m.group(1), int(m.group(2)))
        return Location("MSH", 1)

    def add(self, tag: str, resource: dict, method: str, url: str, if_none_exist: str | None = None) -> str:
        full_url = self.full_url(tag)
        request: dict = {"method": method, "url": url}
        if if_none_exist:
            request["ifNoneExist"] = if_none_exist
        self.entries.append({"fullUrl": full_url, "resource": resource, "request": request})
        self.tags[full_url] = tag
        return full_url

    def create(self, tag: str, resource: dict, identifier: dict) -> str:
        """Conditional create on ``identifier`` (put first in the resource's identifiers)."""
        rtype = resource["resourceType"]
        return self.add(tag, resource, "POST", rtype, criteria(rtype, identifier).split("?", 1)[1])

    def upsert(self, tag: str, resource: dict, identifier: dict) -> str:
        """Conditional update on ``identifier``: creates the resource or updates the one found."""
        return self.add(tag, resource, "PUT", criteria(resource["resourceType"], identifier))

    def bundle(self) -> dict:
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}


def nte_text(nte: Segment) -> str:
    return "\n".join(nte.get(3, 1, r) for r in range(1, len(nte.reps(3)) + 1)).strip()
