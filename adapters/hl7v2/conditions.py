"""DG1 → Condition."""

from __future__ import annotations

from . import datatypes as dt
from .conversion import Conversion
from .er7 import Segment
from .tables import table


def add_condition(conv: Conversion, dg1: Segment) -> dict | None:
    code = dt.cwe(dt.first(dg1, 3))
    if code is None and dg1.get(4):
        code = {"text": dg1.get(4)}
    if code is None:
        conv.warn(dg1, 3, "DG1 without a diagnosis code or description; left out")
        return None
    identifier = None
    ident_rep = dt.first(dg1, 20)
    if ident_rep is not None:
        identifier = dt.ei(ident_rep, conv.facility)
    identifier = identifier or conv.message_identifier(f"DG1-{dg1.sequence}")
    condition: dict = {"resourceType": "Condition", "identifier": [identifier],
                       "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                      "condition-clinical", "code": "active"}]},
                       "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                 "condition-category", "code": "encounter-diagnosis"}]}],
                       "code": code, "subject": conv.patient_ref}
    verification = table("diagnosis-type").code(dg1.get(6))
    if verification:
        condition["verificationStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                       "condition-ver-status", "code": verification}]}
    onset = conv.timestamp(dg1, 5, what="diagnosis date/time")
    if onset:
        condition["onsetDateTime"] = onset
    url = conv.create(f"DG1-{dg1.sequence}", condition, identifier)
    return {"reference": url,
            "display": code.get("text") or code["coding"][0].get("display", code["coding"][0]["code"])}
