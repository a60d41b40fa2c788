"""Each import run recorded on the server as an AuditEvent, so the web console's integration
monitor (issue 22) shows recent imports with their error reports through the FHIR API, as it
shows the HL7 v2 messages (``adapters/hl7v2/message_audit.py``).

type DICOM 110107 Import; subtype the public-health form (its record type, the form's Chinese
title as display); action C; outcome 0 when every row was written, 4 when some were refused,
8 when the file was rejected as a whole; the file as the entity (its name, not its path, and
the counts as details); ``outcomeDesc`` the first refused rows, the field and what it must be.

No cell value leaves the clinic's machine through it: a refusal's "got …" part is cut and any
long run of digits masked, so an ID or phone number in a server's diagnostics is not recorded
either.  The full report, values included, stays in the ``.errors.csv`` beside the file."""

from __future__ import annotations

import datetime as _dt
import logging
import re
from pathlib import Path

from ..fhir_client import FhirClient
from . import tables

log = logging.getLogger("jiayi.import.audit")

DCM = "http://dicom.nema.org/resources/ontology/DCM"
IMPORT = {"system": DCM, "code": "110107", "display": "Import"}
FORM = "https://jiayi.dev/fhir/CodeSystem/publichealth-form"
IMPORT_FILE = "https://jiayi.dev/fhir/sid/import-file"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ERRORS_LISTED = 5
_LONG_DIGITS = re.compile(r"\d{9,}[\dXx]*")  # ID, record and phone numbers; not a date


def import_event(result, *, observer: str = "jiayi import", recorded: _dt.datetime | None = None) -> dict:
    """The AuditEvent of one finished import (an ``importer.ImportResult``; pure data)."""
    recorded = recorded or _dt.datetime.now(_dt.UTC)
    refused_rows = sorted({e.row for e in result.errors})
    written = result.created + result.updated + result.unchanged
    outcome = "0" if not result.errors and not result.rejected else "8" if result.rejected >= result.rows else "4"
    counts = {"rows": result.rows, "created": result.created, "updated": result.updated,
              "unchanged": result.unchanged, "rejected": result.rejected}
    event: dict = {
        "resourceType": "AuditEvent",
        "type": IMPORT,
        "subtype": [{"system": FORM, "code": result.record_type,
                     "display": tables.TITLES.get(result.record_type, result.record_type)}],
        "action": "C",
        "recorded": recorded.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "outcome": outcome,
        "agent": [{"type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
                   "who": {"display": observer}, "requestor": True}],
        "source": {"observer": {"display": observer}, "type": [{"system": SOURCE_TYPE, "code": "4"}]},
        "entity": [{"what": {"identifier": {"system": IMPORT_FILE, "value": Path(result.file).name}},
                    "type": {"system": ENTITY_TYPE, "code": "2"}, "role": {"system": OBJECT_ROLE, "code": "20"},
                    "name": Path(result.file).name,
                    "detail": [{"type": key, "valueString": str(value)} for key, value in counts.items()]}],
    }
    summary = (f"{result.rows} rows: {written} written, {len(refused_rows) or result.rejected} refused"
               if outcome != "8" else f"{result.rows} rows: the file was rejected, nothing written")
    listed = [f"row {e.row} {e.field}: {safe_reason(e.reason)}" for e in result.errors[:ERRORS_LISTED]]
    more = len(result.errors) - len(listed)
    event["outcomeDesc"] = "; ".join([summary, *listed] + ([f"{more} more in the error report"] if more > 0 else []))
    return event


def safe_reason(reason: str) -> str:
    """A refusal's words without the cell's value: "档案编号 must be 17 digits (…)"."""
    return _LONG_DIGITS.sub("…", reason.split("; got ", 1)[0]).strip()[:200]


def record(client: FhirClient, result, observer: str = "jiayi import") -> bool:
    """POST the import's AuditEvent; a refusal is logged, never raised (the import is done)."""
    try:
        client.create(import_event(result, observer=observer))
        return True
    except Exception as exc:  # noqa: BLE001 - recording must never fail an import that was written
        log.warning("AuditEvent of the import of %s not recorded: %s", Path(result.file).name, exc)
        return False
