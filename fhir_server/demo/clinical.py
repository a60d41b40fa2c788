"""Chronic conditions and their follow-up visits (jiayi-follow-up) with observations.

Hypertension (ICD-10 I10) and type-2 diabetes (E11) patients are followed up four times a
year as the national public-health specification asks (服务规范 §1.4/§1.5), at a clinic,
at home or by phone; about one visit in ten is missed.  Each visit records blood pressure
(LOINC 85354-9 panel, 8480-6 / 8462-4 in mm[Hg]), heart rate, weight and, for diabetes,
fasting glucose (1558-6, mmol/L).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from . import catalog as c
from .build import concept, ext, instant, jiayi, ref
from .patients import Home
from .residents import Person

_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_METHODS = (("clinic", "门诊", "AMB", "ambulatory"), ("home", "家庭", "HH", "home health"),
            ("phone", "电话", "VR", "virtual"))
_VITAL = [{"coding": [{"system": c.OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}]
_LAB = [{"coding": [{"system": c.OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}]
_SHORT = {"hypertension": "htn", "diabetes-t2": "dm"}


def conditions(rng: random.Random, person: Person, home: Home, as_of: dt.date) -> Iterator[dict]:
    """One Condition per chronic disease of the person."""
    for key in ("hypertension", "diabetes-t2"):
        if key not in person.key:
            continue
        icd, name, _item, _pkg = c.CHRONIC[key]
        years = min(person.age - 30, 1 + int(rng.random() * 15))
        onset = as_of - dt.timedelta(days=max(60, int(years * 365.25)) + int(rng.random() * 300))
        yield {"resourceType": "Condition", "id": f"cond-{person.index:07d}-{_SHORT[key]}",
               "clinicalStatus": concept(_CLINICAL, "active", "Active"),
               "verificationStatus": concept(_VERIFICATION, "confirmed", "Confirmed"),
               "category": [concept(_CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
               "code": concept(c.ICD10, icd, name),
               "subject": ref("Patient", person.id, person.name),
               "onsetDateTime": onset.isoformat(), "recordedDate": onset.isoformat(),
               "recorder": ref("Practitioner", home.team.lead.id)}


def _quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": unit}


def _observation(oid: str, category: list, code: str, display: str, person: Person, enc: str,
                 when: str, performer: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "category": category,
            "code": {"coding": [{"system": c.LOINC, "code": code, "display": display}], "text": display},
            "subject": ref("Patient", person.id), "encounter": ref("Encounter", enc),
            "effectiveDateTime": when, "performer": [ref("Practitioner", performer)]}


def _vitals(rng: random.Random, person: Person, eid: str, when: str, doctor: str, base: tuple) -> list[dict]:
    sbp, dbp, hr, kg, glucose = base
    bp = _observation(f"obs-{eid[4:]}-bp", _VITAL, "85354-9", "Blood pressure panel with all children optional",
                      person, eid, when, doctor)
    bp["component"] = [
        {"code": {"coding": [{"system": c.LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
         "valueQuantity": _quantity(sbp + int(rng.random() * 21) - 10, "mm[Hg]")},
        {"code": {"coding": [{"system": c.LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
         "valueQuantity": _quantity(dbp + int(rng.random() * 13) - 6, "mm[Hg]")}]
    heart = _observation(f"obs-{eid[4:]}-hr", _VITAL, "8867-4", "Heart rate", person, eid, when, doctor)
    heart["valueQuantity"] = _quantity(hr + int(rng.random() * 11) - 5, "/min")
    weight = _observation(f"obs-{eid[4:]}-wt", _VITAL, "29463-7", "Body weight", person, eid, when, doctor)
    weight["valueQuantity"] = _quantity(round(kg + rng.random() * 2 - 1, 1), "kg")
    out = [bp, heart, weight]
    if glucose:
        fpg = _observation(f"obs-{eid[4:]}-glu", _LAB, "1558-6",
                           "Fasting glucose [Moles/volume] in Serum or Plasma", person, eid, when, doctor)
        fpg["valueQuantity"] = _quantity(round(glucose + rng.random() * 1.6 - 0.8, 1), "mmol/L")
        out.append(fpg)
    return out


def _baseline(rng: random.Random, person: Person) -> tuple:
    htn, dm = "hypertension" in person.key, "diabetes-t2" in person.key
    sbp = (128 if htn else 115) + int(rng.random() * (28 if htn else 14))
    dbp = (78 if htn else 70) + int(rng.random() * 14)
    kg = (62 if person.sex == "male" else 52) + rng.random() * 25
    return sbp, dbp, 62 + int(rng.random() * 22), kg, (6.0 + rng.random() * 3.5) if dm else None


def follow_ups(rng: random.Random, person: Person, home: Home, as_of: dt.date,
               contract: tuple[str, dt.date] | None) -> Iterator[dict]:
    """The last year's quarterly follow-up Encounters, each followed by its Observations."""
    chronic = [k for k in ("hypertension", "diabetes-t2") if k in person.key]
    if not chronic:
        return
    base, doctor, inst = _baseline(rng, person), home.team.lead.id, home.team.institution
    for q in range(4):
        day = min(as_of - dt.timedelta(days=365 - q * 91 - int(rng.random() * 80)), as_of - dt.timedelta(days=1))
        if rng.random() < 0.1:
            continue
        method, name, act, act_name = _METHODS[0 if rng.random() < 0.7 else 1 if rng.random() < 0.5 else 2]
        eid, minutes = f"enc-{person.index:07d}-{q}", 8 * 60 + int(rng.random() * 480)
        items = [c.CHRONIC[k][2] for k in chronic]
        extension = [ext("jiayi-contract", "Reference", ref("Contract", contract[0]))] \
            if contract and contract[1] <= day else []
        extension += [ext("jiayi-service-item", "CodeableConcept",
                          {"coding": [jiayi("service-item", i, c.SERVICE_ITEMS[i])], "text": c.SERVICE_ITEMS[i]})
                      for i in items]
        yield {"resourceType": "Encounter", "id": eid, "extension": extension, "status": "finished",
               "class": {"system": c.V3_ACT_CODE, "code": act, "display": act_name},
               "type": [{"coding": [jiayi("follow-up-method", method, name)], "text": f"{name}随访"}],
               "subject": ref("Patient", person.id, person.name),
               "participant": [{"individual": ref("Practitioner", doctor)}],
               "period": {"start": instant(day, minutes), "end": instant(day, minutes + 20)},
               "reasonReference": [ref("Condition", f"cond-{person.index:07d}-{_SHORT[k]}") for k in chronic],
               "serviceProvider": ref("Organization", inst.id)}
        yield from _vitals(rng, person, eid, instant(day, minutes + 5), doctor, base)
