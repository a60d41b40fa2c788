"""The ``obs`` target kind of the form tables: a form's answers as Observations.

``obs <system|code> <value kind> …`` — one Observation per code, with the value as a quantity,
a component of a panel (blood pressure), a coded value, a date, a string, one component per
code when a cell holds several codes, or one coded or text answer of a panel
(``component-concept``, ``component-string``): fields naming the same code share its
Observation.  The visit forms' Observations belong to the follow-up
Encounter; the resident form's (its history sections) to the resident alone.
"""

from __future__ import annotations

from .. import tables
from .common import LOINC, UCUM, Entry, code_of, concept, plain_put

_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VITAL = [{"coding": [{"system": _CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}]
SURVEY = [{"coding": [{"system": _CATEGORY, "code": "survey", "display": "Survey"}]}]
SOCIAL_HISTORY = [{"coding": [{"system": _CATEGORY, "code": "social-history", "display": "Social History"}]}]
LAB_CODES = {"1558-6", "4548-4"}
LAB = [{"coding": [{"system": _CATEGORY, "code": "laboratory", "display": "Laboratory"}]}]


def _code(cs: str, code: str, header: str) -> dict:
    """The Observation's code: a panel named in code-lists.csv (list ``phs-observation``) by its
    name there, any other by the header of its form field."""
    named = tables.code_lists().get("phs-observation")
    known = named.codes.get(code) if named is not None and named.system == cs else None
    coding = {"system": cs, "code": code, **({"display": known.display} if known else {})}
    return {"coding": [coding], "text": known.display if known else header}


def quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def build(record_type: str, record: dict, system: str, key: str, subject: dict, encounter: str | None,
          when: str | None, category: list[dict]) -> list[Entry]:
    """The Observations of the record's ``obs`` fields (identifier ``system|key/code``)."""
    observations: dict[str, dict] = {}
    for fld in tables.form(record_type).fields:
        if fld.kind != "obs" or record.get(fld.key) is None:
            continue
        system_code, value_kind = fld.args[0], fld.args[1]
        cs, code = system_code.split("|")
        obs = observations.get(system_code)
        if obs is None:
            obs = {"resourceType": "Observation",
                   "identifier": [{"system": system, "value": f"{key}/{code}"}], "status": "final",
                   "category": LAB if code in LAB_CODES else VITAL if cs == LOINC else category,
                   "code": _code(cs, code, fld.header), "subject": subject}
            if encounter:
                obs["encounter"] = {"reference": encounter}
            if when:
                obs["effectiveDateTime"] = when
            observations[system_code] = obs
        value = record[fld.key]
        if value_kind == "quantity":
            obs["valueQuantity"] = quantity(value, fld.args[2])
        elif value_kind == "component":
            obs["code"]["text"] = "血压"
            comp_cs, comp_code = fld.args[2].split("|")
            obs.setdefault("component", []).append(
                {"code": {"coding": [{"system": comp_cs, "code": comp_code}], "text": fld.header},
                 "valueQuantity": quantity(value, fld.args[3])})
        elif value_kind == "concept":
            obs["valueCodeableConcept"] = concept(fld, value, record)
        elif value_kind == "date":
            obs["valueDateTime"] = value
        elif value_kind == "string":
            obs["valueString"] = value
        elif value_kind == "components":  # several codes in one cell: one component each
            comp_cs, comp_code = fld.args[2].split("|")
            obs.setdefault("component", []).extend(
                {"code": {"coding": [{"system": comp_cs, "code": comp_code}], "text": fld.header},
                 "valueCodeableConcept": concept(fld, code, record)} for code in value)
        elif value_kind in ("component-concept", "component-string"):  # one answer of a panel
            comp_cs, comp_code = fld.args[2].split("|")
            part: dict = {"code": {"coding": [{"system": comp_cs, "code": comp_code}], "text": fld.header}}
            if value_kind == "component-concept":
                part["valueCodeableConcept"] = concept(fld, value, record)
            else:
                part["valueString"] = value
            obs.setdefault("component", []).append(part)
    return [plain_put("Observation", f"{system}|{key}/{system_code}", obs) for system_code, obs in observations.items()]


def read(record_type: str, found_observations: list[dict], record: dict) -> None:
    """The ``obs`` fields back from the Observations."""
    by_code = {}
    for obs in found_observations:
        c = obs["code"]["coding"][0]
        by_code[f"{c['system']}|{c['code']}"] = obs
    for fld in tables.form(record_type).fields:
        if fld.kind != "obs":
            continue
        found = by_code.get(fld.args[0])
        if found is None:
            continue
        obs = found
        value_kind = fld.args[1]
        if value_kind == "quantity" and "valueQuantity" in obs:
            record[fld.key] = obs["valueQuantity"]["value"]
        elif value_kind == "component":
            want = fld.args[2].split("|")[1]
            for comp in obs.get("component", []):
                if comp["code"]["coding"][0]["code"] == want:
                    record[fld.key] = comp["valueQuantity"]["value"]
        elif value_kind == "concept":
            code = code_of(fld, obs.get("valueCodeableConcept"), record)
            if code:
                record[fld.key] = code
        elif value_kind == "date" and obs.get("valueDateTime"):
            record[fld.key] = obs["valueDateTime"][:10]
        elif value_kind == "string" and obs.get("valueString"):
            record[fld.key] = obs["valueString"]
        elif value_kind == "components":
            want = fld.args[2].split("|")[1]
            codes = [code_of(fld, comp.get("valueCodeableConcept"), record) for comp in obs.get("component", [])
                     if comp["code"]["coding"][0]["code"] == want]
            if any(codes):
                record[fld.key] = [c for c in codes if c]
        elif value_kind in ("component-concept", "component-string"):
            want = fld.args[2].split("|")[1]
            for comp in obs.get("component", []):
                if comp["code"]["coding"][0]["code"] != want:
                    continue
                if value_kind == "component-string" and comp.get("valueString"):
                    record[fld.key] = comp["valueString"]
                elif value_kind == "component-concept":
                    code = code_of(fld, comp.get("valueCodeableConcept"), record)
                    if code:
                        record[fld.key] = code
