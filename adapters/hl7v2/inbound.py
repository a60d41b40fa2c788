"""Inbound HL7 v2 messages → one FHIR transaction Bundle each.

Supported (``SUPPORTED``): ADT^A01/A04/A08/A28/A31 (Patient; Encounter for A01/A04),
ADT^A40 (merge: Patient.link replaces / replaced-by, the old one inactive), REF^I12
(referral ServiceRequest + Task, Patient, Practitioners, Organizations, Conditions, notes,
supporting Observations), RRI^I12 (the referral Task's progress, the downward return
referral) and ORU^R01 (Observations and DiagnosticReports).  Anything else is refused
(AR, 200/201).  The segment-to-element tables are in ``mappings/hl7v2/segments.md``.

Every write is conditional on an identifier, so the same message processed twice changes
nothing: Patients on their identifiers (ADT: conditional update; other messages:
conditional create), referrals on RF1-6/RF1-11, results on the filler order number, and
what has no identifier of its own on one derived from the message
(``SID/hl7v2-message`` = sender/control id/segment).  Full URLs are ``urn:uuid:`` values
derived from the message, so the same message always gives the same Bundle.
"""

from __future__ import annotations

from collections.abc import Callable

from . import adt, oru, referral, rri
from .conversion import Conversion
from .er7 import Message
from .errors import REQUIRED_FIELD_MISSING, UNSUPPORTED_EVENT_CODE, UNSUPPORTED_MESSAGE_TYPE, Location, reject

__all__ = ["CONVERTERS", "SUPPORTED", "Conversion", "check_supported", "convert"]

SUPPORTED = {"ADT": (*adt.ADT_PATIENT, "A40"), "REF": ("I12",), "RRI": ("I12",), "ORU": ("R01",)}

CONVERTERS: dict[str, Callable[[Conversion], None]] = {
    **{f"ADT^{t}": adt.patient_event for t in adt.ADT_PATIENT}, "ADT^A40": adt.merge, "REF^I12": referral.ref_i12,
    "RRI^I12": rri.rri_i12, "ORU^R01": oru.oru_r01,
}


def check_supported(msg: Message) -> Callable[[Conversion], None]:
    msg.check_version()
    if not msg.control_id:
        raise reject(REQUIRED_FIELD_MISSING, "MSH-10 (message control id) is required", Location("MSH", 1, 10))
    converter = CONVERTERS.get(msg.type)
    if converter is not None:
        return converter
    supported = ", ".join(sorted(CONVERTERS))
    if msg.message_code in SUPPORTED:
        raise reject(UNSUPPORTED_EVENT_CODE, f"{msg.type} is not supported (supported: {supported})",
                     Location("MSH", 1, 9, None, 2))
    raise reject(UNSUPPORTED_MESSAGE_TYPE, f"message type {msg.type or '(none)'} is not supported "
                 f"(supported: {supported})", Location("MSH", 1, 9))


def convert(msg: Message, lenient: bool = False) -> Conversion:
    """The transaction Bundle (``conv.bundle()``) a message becomes; raises :class:`HL7Error`
    (AE with every value that is not of its data type, unless ``lenient``: then those are
    warnings and the values are left out)."""
    converter = check_supported(msg)
    conv = Conversion(msg, lenient)
    converter(conv)
    conv.check()
    return conv
