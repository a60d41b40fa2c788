"""The medicine rows of the follow-up forms ↔ MedicationStatement and MedicationRequest.

用药情况 (the drugs the resident takes: 药物名称 1–3 with 用法用量, and on the diabetes form
the 胰岛素 kind and dose) becomes one MedicationStatement per filled slot; 用药调整意见 (the
doctor's adjusted prescription) one MedicationRequest (intent ``plan``) per slot.  The table
target is ``med <MedicationStatement|MedicationRequest> <slot> <name|dosage>``.

The dose is kept as typed in ``dosage.text`` (so it comes back exactly) and, where it reads as
"每日N次，每次X单位" or one of its usual variants (1日2次, 2次/日, bid, 5mg/次...), also as a
timing (frequency per day) and a dose quantity.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .. import tables
from .common import UCUM, Entry, plain_put

STATEMENT, REQUEST = "MedicationStatement", "MedicationRequest"
_SUFFIX = {STATEMENT: "medication", REQUEST: "medication-adjustment"}
_NUMERALS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_PER_DAY = re.compile(r"(?:每日|每天|一日|1日|日)\s*(\d+|[一两二三四五六])\s*次"
                      r"|(\d+|[一两二三四五六])\s*次\s*/\s*[日天]")
_LATIN = {"qd": 1, "bid": 2, "tid": 3, "qid": 4}
_DOSE = re.compile(r"(?:每次\s*([\d.]+)\s*([a-zA-Zμ]+|片|粒|支|袋|丸|单位)"
                   r"|([\d.]+)\s*([a-zA-Zμ]+|片|粒|支|袋|丸|单位)\s*/\s*次)")
_UCUM = {"mg": "mg", "g": "g", "ug": "ug", "μg": "ug", "ml": "mL", "mL": "mL", "u": "[iU]", "U": "[iU]",
         "iu": "[iU]", "IU": "[iU]", "单位": "[iU]"}


@functools.cache
def slots(record_type: str) -> dict[tuple[str, str], dict[str, tables.Field]]:
    """(resource type, slot) → {"name": field, "dosage": field} of the form, in table order."""
    out: dict[tuple[str, str], dict[str, tables.Field]] = {}
    for fld in tables.form(record_type).fields:
        if fld.kind == "med":
            res_type, slot, part = fld.args
            out.setdefault((res_type, slot), {})[part] = fld
    return out


def dosage(text: str) -> dict:
    """A Dosage from the form's 用法用量 text: the text itself, and timing and dose when it reads."""
    out: dict = {"text": text}
    text = unicodedata.normalize("NFKC", text)  # １次 → 1次
    per_day = None
    match = _PER_DAY.search(text)
    if match:
        word = match[1] or match[2]
        per_day = int(word) if word.isdigit() else _NUMERALS[word]
    else:
        latin = re.search(r"\b(qd|bid|tid|qid)\b", text, re.IGNORECASE)
        per_day = _LATIN[latin[1].lower()] if latin else None
    if per_day:
        out["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    dose = _DOSE.search(text)
    if dose:
        value, unit = (dose[1], dose[2]) if dose[1] else (dose[3], dose[4])
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None:
            quantity: dict = {"value": int(number) if number.is_integer() else number, "unit": unit}
            if unit in _UCUM:
                quantity.update(system=UCUM, code=_UCUM[unit])
            out["doseAndRate"] = [{"doseQuantity": quantity}]
    return out


def medications(record_type: str, record: dict, system: str, key: str, subject: dict, encounter: str,
                requester: dict | None) -> list[Entry]:
    """The MedicationStatements and MedicationRequests of one visit's filled medicine slots."""
    entries = []
    day = record["visit_date"]
    for (res_type, slot), parts in slots(record_type).items():
        name = record.get(parts["name"].key)
        if name is None:
            continue
        identifier = [{"system": system, "value": f"{key}/{_SUFFIX[res_type]}-{slot}"}]
        medicine = {"text": name}
        text = record.get(parts["dosage"].key) if "dosage" in parts else None
        if res_type == STATEMENT:
            res: dict = {"resourceType": STATEMENT, "identifier": identifier, "status": "active",
                         "medicationCodeableConcept": medicine, "subject": subject,
                         "context": {"reference": encounter}, "effectiveDateTime": day, "dateAsserted": day}
            if text is not None:
                res["dosage"] = [dosage(text)]
        else:
            res = {"resourceType": REQUEST, "identifier": identifier, "status": "active", "intent": "plan",
                   "medicationCodeableConcept": medicine, "subject": subject, "encounter": {"reference": encounter},
                   "authoredOn": day}
            if requester is not None:
                res["requester"] = requester
            if text is not None:
                res["dosageInstruction"] = [dosage(text)]
        entries.append(plain_put(res_type, f"{system}|{key}/{_SUFFIX[res_type]}-{slot}", res))
    return entries


def read_medications(record_type: str, system: str, resources: list[dict], record: dict) -> None:
    """The medicine slots back from the visit's MedicationStatements and MedicationRequests."""
    wanted = slots(record_type)
    for res in resources:
        res_type = str(res.get("resourceType"))
        for ident in res.get("identifier", []):
            if ident.get("system") != system or "/" not in str(ident.get("value")):
                continue
            prefix, _, slot = ident["value"].rpartition("/")[2].rpartition("-")
            parts = wanted.get((res_type, slot)) if prefix == _SUFFIX.get(res_type, "") else None
            if parts is None:
                continue
            name = (res.get("medicationCodeableConcept") or {}).get("text")
            if name is not None:
                record[parts["name"].key] = name
            given = res.get("dosage" if res_type == STATEMENT else "dosageInstruction") or []
            if given and given[0].get("text") is not None and "dosage" in parts:
                record[parts["dosage"].key] = given[0]["text"]
