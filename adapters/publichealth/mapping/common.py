"""What every form's mapping shares: the bundle entries of a business object (:class:`Unit`),
stable ids, the support resources a form implies (Organization, Practitioner), and the generic
target kinds of the form tables:

* ``path P``      the normalised value at path P of the main resource;
* ``code P``      a code translated by the ConceptMaps (the form code kept in ``_P``);
* ``concept P``   a CodeableConcept: the form's coding, its translation, and the 2011 code;
* ``coding P``    one Coding (the translation when a ConceptMap has one, else the form code);
* ``concepts P``  one extension per code (several values in one cell);
* ``info``        checked, not stored.

The kinds one form has of its own (``obs``, ``ref``...) are in that form's module.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from fhir_server.core.jiayi_names import CONTRACT_NUMBER, DOCTOR_CARD, HEALTH_RECORD, ID_CARD, USCC

from .. import paths, tables
from ..tables import CS, SD, SID

__all__ = ["CONTRACT_NUMBER", "CS", "DOCTOR_CARD", "HEALTH_RECORD", "ID_CARD", "SD", "SID", "USCC"]

TEAM_CODE = SID + "team-code"
HOUSEHOLD = SID + "household-record"
RESIDENT_FORM = SID + "resident-form"  # the resident form's history Observations: 身份证号/section
REFERRAL_NUMBER = SID + "referral-number"
ROLE_ID = SID + "practitioner-role"
EDITION = CS + "phs-form-edition"
FORM_CODE = SD + "jiayi-form-code"
RELATIONSHIP = SD + "jiayi-household-relationship"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def rid(kind: str, key: str) -> str:
    """A stable resource id from a business key (idempotent re-import)."""
    return "ph-" + hashlib.sha1(f"{kind}|{key}".encode()).hexdigest()[:24]


@dataclass(slots=True)
class Entry:
    resource: dict
    method: str  # PUT or POST
    url: str
    full_url: str
    counted: bool = True  # a part of the business object (False: shared support resource)
    lookup: tuple[str, str, str] | None = None  # (type, search parameter, value) to find its prior version
    if_none_exist: str | None = None

    def bundle_entry(self) -> dict:
        request = {"method": self.method, "url": self.url}
        if self.if_none_exist:
            request["ifNoneExist"] = self.if_none_exist
        return {"fullUrl": self.full_url, "resource": self.resource, "request": request}


@dataclass(slots=True)
class Unit:
    """The entries of one business object and the shared resources it needs."""

    record_type: str
    rows: list[int]
    label: str
    entries: list[Entry] = field(default_factory=list)
    support: dict[str, Entry] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def conditional_put(res_type: str, system: str, value: str, resource: dict) -> Entry:
    resource["id"] = rid(res_type, f"{system}|{value}")
    return Entry(resource, "PUT", f"{res_type}?identifier={system}|{value}", f"urn:uuid:{resource['id']}",
                 lookup=(res_type, "identifier", f"{system}|{value}"))


def plain_put(res_type: str, key: str, resource: dict) -> Entry:
    resource["id"] = rid(res_type, key)
    return Entry(resource, "PUT", f"{res_type}/{resource['id']}", f"urn:uuid:{resource['id']}",
                 lookup=(res_type, "_id", resource["id"]))


def create_once(res_type: str, system: str, value: str, resource: dict, counted: bool = False) -> Entry:
    resource.setdefault("identifier", [{"system": system, "value": value}])
    key = rid(res_type, f"{system}|{value}")
    return Entry(resource, "POST", res_type, f"urn:uuid:{key}", counted=counted,
                 if_none_exist=f"identifier={system}|{value}",
                 lookup=(res_type, "identifier", f"{system}|{value}") if counted else None)


def organization(unit: Unit, code: str, name: str | None) -> dict:
    """A reference to the Organization with this USCC, created (name only) when missing."""
    key = f"Organization|{code}"
    if key not in unit.support:
        res = {"resourceType": "Organization", "identifier": [{"use": "official", "system": USCC, "value": code}],
               "active": True, "name": name or code}
        unit.support[key] = create_once("Organization", USCC, code, res)
    return {"reference": unit.support[key].full_url, **({"display": name} if name else {})}


def practitioner(unit: Unit, card: str, name: str | None, extra: dict | None = None) -> dict:
    key = f"Practitioner|{card}"
    if key not in unit.support:
        res = {"resourceType": "Practitioner",
               "identifier": [{"use": "official", "system": DOCTOR_CARD, "value": card}],
               "active": True}
        if name:
            res["name"] = [{"text": name, "family": name[:1], "given": [name[1:]] if name[1:] else []}]
        res.update(extra or {})
        unit.support[key] = create_once("Practitioner", DOCTOR_CARD, card, res)
    return {"reference": unit.support[key].full_url, **({"display": name} if name else {})}


def read_resident_ids(patient: dict | None, record: dict) -> None:
    """身份证号, 档案编号 and 姓名 of the form's resident back from the Patient a record names."""
    if patient:
        record["id_number"] = ident_value(patient, ID_CARD)
        record["record_no"] = ident_value(patient, HEALTH_RECORD)
        if patient.get("name"):
            record["name"] = patient["name"][0].get("text")


def patient_ref(record: dict) -> dict:
    if record.get("id_number"):
        ref = f"Patient?identifier={ID_CARD}|{record['id_number']}"
    else:
        ref = f"Patient?identifier={HEALTH_RECORD}|{record['record_no']}"
    return {"reference": ref, **({"display": record["name"]} if record.get("name") else {})}


# --- generic kinds -----------------------------------------------------------------------

def form_coding(fld: tables.Field, code: str) -> dict:
    cl = tables.code_lists()[fld.codes]
    return {"system": cl.system, "code": code, "display": cl.codes[code].display}


def concept(fld: tables.Field, code: str, record: dict) -> dict:
    coding = form_coding(fld, code)
    codings = [coding]
    target = tables.translate(coding["system"], code)
    if target is not None:
        codings.append(target_coding(target))
    original = record.get("_original", {}).get(fld.key)
    if original is not None:
        old = tables.code_lists()[f"{fld.codes}-2011"]
        codings.append({"system": old.system, "code": original, "display": old.codes[original].display})
    return {"coding": codings, "text": coding["display"]}


def coding(fld: tables.Field, code: str) -> dict:
    form = form_coding(fld, code)
    target = tables.translate(form["system"], code)
    if target is not None:
        return target_coding(target)
    return form


def target_coding(target: dict) -> dict:
    out = {"system": target["system"], "code": target["code"]}
    if target.get("display"):
        out["display"] = target["display"]
    return out


def apply_fields(record_type: str, record: dict, resource: dict) -> None:
    """Every ``path``/``code``/``concept``/``coding``/``concepts`` field of the record onto the resource."""
    for fld in tables.form(record_type).fields:
        value = record.get(fld.key)
        if value is None:
            continue
        kind = fld.kind
        if kind == "path":
            paths.put(resource, fld.args[0], value)
        elif kind == "code":
            form = form_coding(fld, value)
            target = tables.translate(form["system"], value)
            name = fld.args[0]
            resource[name] = target["code"] if target else value
            resource["_" + name] = {"extension": [{"url": FORM_CODE, "valueCoding": form}]}
        elif kind == "concept":
            paths.put(resource, fld.args[0], concept(fld, value, record))
        elif kind == "coding":
            paths.put(resource, fld.args[0], coding(fld, value))
        elif kind == "concepts":
            url = paths.parse(fld.args[0])[0][3]
            for code in value:
                resource.setdefault("extension", []).append(
                    {"url": url, "valueCodeableConcept": concept(fld, code, record)})


def read_fields(record_type: str, resource: dict, record: dict) -> None:
    """The inverse of :func:`apply_fields`."""
    lists = tables.code_lists()
    for fld in tables.form(record_type).fields:
        kind = fld.kind
        if kind == "path":
            value = paths.get(resource, fld.args[0])
            if value is not None:
                if fld.type == "date" and isinstance(value, str):
                    value = value[:10]
                record[fld.key] = value
        elif kind == "code":
            name = fld.args[0]
            ext = (resource.get("_" + name) or {}).get("extension", [])
            form = next((e["valueCoding"]["code"] for e in ext if e.get("url") == FORM_CODE), None)
            if form is None and resource.get(name) is not None:
                cl = lists[fld.codes]
                target = next((t for (s, _c), t in tables.concept_maps().items() if s == cl.system), None)
                form = tables.reverse_maps().get((cl.system, target["system"] if target else "", resource[name]))
            if form is not None:
                record[fld.key] = form
        elif kind == "concept":
            cc = paths.get(resource, fld.args[0])
            code = code_of(fld, cc, record)
            if code is not None:
                record[fld.key] = code
        elif kind == "coding":
            value = paths.get(resource, fld.args[0])
            if isinstance(value, dict):
                code = reverse_coding(fld, value)
                if code is not None:
                    record[fld.key] = code
        elif kind == "concepts":
            url = paths.parse(fld.args[0])[0][3]
            codes = [code_of(fld, e.get("valueCodeableConcept"), record)
                     for e in resource.get("extension", []) if e.get("url") == url]
            if codes:
                record[fld.key] = [c for c in codes if c]


def code_of(fld: tables.Field, cc, record: dict) -> str | None:
    if not isinstance(cc, dict):
        return None
    lists = tables.code_lists()
    system = lists[fld.codes].system
    old = lists.get(f"{fld.codes}-2011")
    code = None
    for c in cc.get("coding", []):
        if old is not None and c.get("system") == old.system:
            record["edition"] = "2011"
            return c.get("code")
        if c.get("system") == system:
            code = c.get("code")
    if code is None:
        for c in cc.get("coding", []):
            code = code or tables.reverse_maps().get((system, c.get("system"), c.get("code")))
    return code


def reverse_coding(fld: tables.Field, value: dict) -> str | None:
    system = tables.code_lists()[fld.codes].system
    if value.get("system") == system:
        return value.get("code")
    return tables.reverse_maps().get((system, str(value.get("system")), str(value.get("code"))))


def edition_tag(records: list[dict], resource: dict) -> None:
    if any(r.get("edition") == "2011" for r in records):
        resource.setdefault("meta", {})["tag"] = [{"system": EDITION, "code": "2011", "display": "第二版 (2011)"}]


def read_edition(resource: dict, record: dict) -> None:
    for tag in (resource.get("meta") or {}).get("tag", []):
        if tag.get("system") == EDITION:
            record["edition"] = tag.get("code")



def patient_of(record: dict) -> dict:
    return {"reference": f"Patient?identifier={ID_CARD}|{record['id_number']}",
            **({"display": record["name"]} if record.get("name") else {})}



def ident_value(res: dict, system: str) -> str | None:
    return next((i.get("value") for i in res.get("identifier", []) if i.get("system") == system), None)



SOURCE_HASH = SD + "jiayi-source-hash"
MAPPING_VERSION = "1"  # bump when the mapping changes what it writes: every object is then rewritten


def stamp(unit: Unit) -> Unit:
    """Put the hash of everything the unit writes on its main resource (extension jiayi-source-hash).

    A re-import compares it with the stored one and sends nothing for an unchanged object; and an
    object whose hash changed is written whole, so counting needs the main resource's prior only."""
    digest = hashlib.sha1(MAPPING_VERSION.encode())
    for entry in unit.entries:
        digest.update(json.dumps(entry.resource, sort_keys=True, ensure_ascii=False).encode())
    unit.extra["hash"] = digest.hexdigest()
    main = unit.entries[0].resource
    main.setdefault("extension", []).append({"url": SOURCE_HASH, "valueString": unit.extra["hash"]})
    return unit


def stored_hash(resource: dict) -> str | None:
    return next((e.get("valueString") for e in resource.get("extension", []) if e.get("url") == SOURCE_HASH), None)

