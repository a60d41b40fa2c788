"""Results in messages (OBR/OBX groups, ORU^R01 and the supporting OBX of REF^I12) →
Observations and DiagnosticReports: values with their units and codes as sent, LOINC where
the sender gives it or the map knows the local code, reference ranges, embedded documents."""

from __future__ import annotations

import base64
import re

from fhir_server.core.decimals import decimal_from_text

from . import datatypes as dt
from .conversion import _NUMBER, LOINC, MESSAGE_SID, Conversion, nte_text
from .er7 import Segment
from .errors import (
    REQUIRED_FIELD_MISSING,
)
from .tables import table


def _quantity(conv: Conversion, obx: Segment, number: str, comparator: str = "") -> dict | None:
    number = number.strip()
    if not _NUMBER.match(number):
        return None
    quantity: dict = {"value": decimal_from_text(number) if ("." in number or "e" in number.lower()) else int(number)}
    if comparator in ("<", ">", "<=", ">="):
        quantity["comparator"] = comparator
    units = dt.first(obx, 6)
    if units is not None and (units.c(1) or units.c(2)):
        quantity["unit"] = units.c(1) or units.c(2)
        system = dt.code_system(units.c(3))
        if system and units.c(1):
            quantity["system"] = system
            quantity["code"] = units.c(1)
    return quantity


def _observation_value(conv: Conversion, obx: Segment) -> dict:
    value_type = obx.get(2).upper()
    values = dt.reps(obx, 5)
    if not values:
        return {}
    first = values[0]
    raw = first.c(1)
    if value_type == "NM":
        quantity = _quantity(conv, obx, raw)
        if quantity:
            return {"valueQuantity": quantity}
        conv.invalid(obx, 5, f"numeric (NM) value {raw!r} is not a number")
        return {}
    if value_type == "SN":
        comparator, num1, separator, num2 = first.c(1), first.c(2), first.c(3), first.c(4)
        if separator in (":", "/") and num2:
            q1, q2 = _quantity(conv, obx, num1), _quantity(conv, obx, num2)
            if q1 and q2:
                return {"valueRatio": {"numerator": {"value": q1["value"]}, "denominator": {"value": q2["value"]}}}
        elif separator == "-" and num2:
            q1, q2 = _quantity(conv, obx, num1), _quantity(conv, obx, num2)
            if q1 and q2:
                return {"valueRange": {"low": q1, "high": q2}}
        else:
            quantity = _quantity(conv, obx, num1, comparator)
            if quantity:
                return {"valueQuantity": quantity}
        conv.warn(obx, 5, "structured numeric value not readable; kept as text")
        return {"valueString": "".join(first.c(i) for i in range(1, 5))}
    if value_type in ("CE", "CWE", "CNE", "CF"):
        concept = dt.cwe(first)
        return {"valueCodeableConcept": concept} if concept else {}
    if value_type in ("DT", "TS", "DTM"):
        moment = dt.ts(raw)
        if moment:
            return {"valueDateTime": moment}
        if raw:
            conv.invalid(obx, 5, f"{value_type} value {raw!r} is not a valid date/time")
            return {}
    if value_type == "TM" and re.match(r"^\d{2}(\d{2})?(\d{2})?$", raw):
        return {"valueTime": f"{raw[0:2]}:{raw[2:4] or '00'}:{raw[4:6] or '00'}"}
    if value_type in ("ED", "RP"):
        return {}
    text = "\n".join(" ".join(x for x in (r.c(k) for k in range(1, len(r.comps) + 1)) if x) for r in values)
    return {"valueString": text} if text else {}


def _reference_range(obx: Segment) -> list[dict] | None:
    text = obx.get(7)
    if not text:
        return None
    out: dict = {"text": text}
    m = re.match(r"^\s*([+-]?\d+(?:\.\d+)?)\s*[-–~]\s*([+-]?\d+(?:\.\d+)?)\s*$", text)
    units = dt.first(obx, 6)
    if m:
        for key, number in (("low", m.group(1)), ("high", m.group(2))):
            q: dict = {"value": decimal_from_text(number) if "." in number else int(number)}
            if units is not None and units.c(1):
                q["unit"] = units.c(1)
                system = dt.code_system(units.c(3))
                if system:
                    q["system"], q["code"] = system, units.c(1)
            out[key] = q
    return [out]


class ResultGroup:
    """One OBR and its OBX (an ORU order observation, or a REF observation group)."""

    def __init__(self, obr: Segment | None) -> None:
        self.obr = obr
        self.observations: list[tuple[Segment, dict, str]] = []  # (OBX, resource, tag)
        self.notes: list[str] = []
        self.forms: list[dict] = []


def observation_from_obx(conv: Conversion, obx: Segment, group: ResultGroup) -> dict | None:
    code = dt.cwe(dt.first(obx, 3))
    value_type = obx.get(2).upper()
    title = (code or {}).get("text") or ((code or {}).get("coding") or [{}])[0].get("code") or "report"
    if value_type in ("ED", "RP"):  # a document or a pointer to one: the report's presentedForm
        rep = dt.first(obx, 5)
        if rep is not None and value_type == "RP" and rep.c(1):
            group.forms.append({"contentType": _mime_rp(rep), "url": rep.c(1), "title": title})
        elif rep is not None and rep.c(5):
            form: dict = {"contentType": _mime(rep), "title": title}
            if rep.c(4).upper() == "BASE64":
                form["data"] = re.sub(r"\s+", "", rep.c(5))
            else:
                form["data"] = base64.b64encode(rep.c(5).encode("utf-8")).decode("ascii")
            group.forms.append(form)
        return None
    if code is None:
        raise conv.fail(REQUIRED_FIELD_MISSING, "OBX-3 (observation identifier) is required", obx.location(3))
    _add_loinc(code)
    status_code = obx.get(11)
    status = table("observation-status").code(status_code)
    if status is None:
        if status_code:
            conv.warn(obx, 11, f"result status {status_code!r} is not in table 0085; status unknown")
        status = "unknown"
    observation: dict = {"resourceType": "Observation", "status": status,
                         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                   "observation-category", "code": "laboratory"}]}],
                         "code": code, "subject": conv.patient_ref}
    effective = conv.timestamp(obx, 14, what="observation date/time") or conv.timestamp(
        group.obr, 7, what="observation date/time")
    if effective:
        observation["effectiveDateTime"] = effective
    issued = dt.instant(group.obr.get(22)) if group.obr else None
    if issued:
        observation["issued"] = issued
    observation.update(_observation_value(conv, obx))
    ranges = _reference_range(obx)
    if ranges:
        observation["referenceRange"] = ranges
    flags = []
    for rep in dt.reps(obx, 8):
        target = table("abnormal-flags").get(rep.c(1))
        if target:
            flags.append({"coding": [{"system": target.system, "code": target.code,
                                      **({"display": target.display} if target.display else {})}]})
        elif rep.c(1):
            conv.warn(obx, 8, f"abnormal flag {rep.c(1)!r} is not in table 0078; left out")
    if flags:
        observation["interpretation"] = flags
    performer = dt.first(obx, 16)
    if performer is not None:
        name = dt.xcn_name(performer)
        if name:
            observation["performer"] = [{"display": name["text"]}]
    return observation


def _add_loinc(code: dict) -> None:
    """Add the LOINC coding of a sender-local lab code (ConceptMap hl7v2-lab-loinc) unless one is there."""
    codings = code.get("coding", [])
    if any(c.get("system") == LOINC for c in codings):
        return
    for coding in codings:
        target = table("lab-loinc").get_from(coding.get("system"), coding.get("code"))
        if target:
            codings.append({"system": LOINC, "code": target.code, **({"display": target.display}
                                                                     if target.display else {})})
            return


def _mime_rp(rep: dt.Rep) -> str:
    kind, sub = rep.c(3).lower(), rep.c(4).lower()
    if kind in ("image", "text", "application", "audio", "video") and sub and sub.isalnum():
        return f"{kind}/{sub}"
    return "application/octet-stream"


def _mime(rep: dt.Rep) -> str:
    kind, sub = rep.c(2).lower(), rep.c(3).lower()
    if sub == "pdf" or kind == "pdf":
        return "application/pdf"
    if kind in ("image", "text", "application", "audio", "video") and sub:
        return f"{kind}/{sub}"
    return "application/octet-stream"


def results(conv: Conversion, segments: list[Segment]) -> list[ResultGroup]:
    """Group OBR/OBX/NTE into result groups; OBX before any OBR form a group of their own.
    An NTE after an OBR goes to the report's conclusion, after an OBX to that Observation's notes."""
    groups: list[ResultGroup] = []
    current: ResultGroup | None = None
    notes_to: dict | ResultGroup | None = None
    for seg in segments:
        if seg.id == "OBR":
            current = ResultGroup(seg)
            groups.append(current)
            notes_to = current
        elif seg.id == "OBX":
            if current is None:
                current = ResultGroup(None)
                groups.append(current)
            observation = observation_from_obx(conv, seg, current)
            if observation is not None:
                current.observations.append((seg, observation, f"OBX-{seg.sequence}"))
            notes_to = observation
        elif seg.id == "NTE":
            text = nte_text(seg)
            if not text or notes_to is None:
                continue
            if isinstance(notes_to, ResultGroup):
                notes_to.notes.append(text)
            else:
                notes_to.setdefault("note", []).append({"text": text})
        elif seg.id not in ("PRT", "TQ1", "TQ2", "CTI", "SPM"):
            notes_to = None
    return groups


def add_results(conv: Conversion, groups: list[ResultGroup], with_reports: bool) -> list[dict]:
    """Write the groups' Observations (and DiagnosticReports); return references to the Observations."""
    refs = []
    for number, group in enumerate(groups, start=1):
        filler = dt.ei(dt.first(group.obr, 3), conv.facility) if group.obr else None
        placer = dt.ei(dt.first(group.obr, 2), conv.facility) if group.obr else None
        order_id = filler or placer
        obs_refs = []
        for obx, observation, tag in group.observations:
            if order_id:
                code = observation["code"].get("coding", [{}])[0].get("code") or observation["code"].get("text", "")
                identifier = {"system": order_id.get("system", MESSAGE_SID),
                              "value": f"{order_id['value']}/{code}/{obx.get(4) or obx.get(1) or obx.sequence}"}
            else:
                identifier = conv.message_identifier(tag)
            observation["identifier"] = [identifier]
            url = conv.upsert(tag, observation, identifier)
            ref = {"reference": url}
            obs_refs.append(ref)
            refs.append(ref)
        if not with_reports or group.obr is None:
            continue
        obr = group.obr
        code = dt.cwe(dt.first(obr, 4)) or {"text": "检验报告 laboratory report"}
        status = table("result-status").code(obr.get(25))
        if status is None:
            statuses = {o.get("status") for _, o, _ in group.observations}
            status = "final" if statuses <= {"final"} and statuses else "partial" if statuses else "registered"
            if obr.get(25):
                conv.warn(obr, 25, f"result status {obr.get(25)!r} is not in table 0123; status {status}")
        identifier = order_id or conv.message_identifier(f"OBR-{obr.sequence}")
        report: dict = {"resourceType": "DiagnosticReport", "identifier": [identifier], "status": status,
                        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                                  "code": obr.get(24) or "LAB"}]}],
                        "code": code, "subject": conv.patient_ref}
        effective = conv.timestamp(obr, 7, what="observation date/time")
        if effective:
            report["effectiveDateTime"] = effective
        issued = dt.instant(obr.get(22))
        if issued:
            report["issued"] = issued
        if obs_refs:
            report["result"] = obs_refs
        if group.notes:
            report["conclusion"] = "\n".join(group.notes)
        if group.forms:
            report["presentedForm"] = group.forms
        conv.upsert(f"OBR-{obr.sequence}-{number}", report, identifier)
    return refs
