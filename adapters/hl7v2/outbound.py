"""FHIR referrals → REF^I12, referral Task changes → RRI^I12 (ER7, v2.5 structure).

Input is a set of resources (a Bundle's entries, or what the outbound worker fetched):
the ``jiayi-referral`` ServiceRequest, its Patient, the requester (Practitioner,
PractitionerRole or Organization), the performer Organization, the Conditions of its
``reasonReference`` and, for RRI, the Task.  References are resolved by ``Type/id`` or by
``fullUrl``.  Codes go back through the same ConceptMaps (equivalent pairs only).

RF1-6 (originating referral identifier) carries the referral's first identifier as
``value^namespace^universal id^type`` exactly as the inbound side reads it, or, for a
referral Jiayi made without an identifier, ``<ServiceRequest id>^JIAYI``; the direction
goes in RF1-3 (``upward^上转``...), the one field the inbound side reads it from.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from . import datatypes as dt
from .ack import control_id as new_control_id
from .ack import now_ts
from .conversion import OWN_NAMESPACE, SD
from .er7 import build_segment, encode, msh
from .tables import table

_DIRECTION_URL = SD + "jiayi-referral-direction"
_V2_TABLE_SYSTEMS = {"http://terminology.hl7.org/CodeSystem/v2-0336": "HL70336"}


class Resources:
    """Resources by ``Type/id`` and by full URL."""

    def __init__(self, resources: list[dict] | None = None, full_urls: dict[str, dict] | None = None) -> None:
        self.by_ref: dict[str, dict] = {}
        for resource in resources or []:
            self.add(resource)
        for url, resource in (full_urls or {}).items():
            self.by_ref[url] = resource

    def add(self, resource: dict, full_url: str | None = None) -> None:
        if resource.get("id"):
            self.by_ref[f"{resource['resourceType']}/{resource['id']}"] = resource
        if full_url:
            self.by_ref[full_url] = resource

    def get(self, reference: dict | None) -> dict | None:
        if not reference or "reference" not in reference:
            return None
        ref = reference["reference"]
        if ref in self.by_ref:
            return self.by_ref[ref]
        tail = "/".join(ref.split("/_history")[0].split("/")[-2:])
        return self.by_ref.get(tail)

    @classmethod
    def from_bundle(cls, bundle: dict) -> Resources:
        out = cls()
        for entry in bundle.get("entry", []):
            if "resource" in entry:
                out.add(entry["resource"], entry.get("fullUrl"))
        return out

    def of_type(self, resource_type: str) -> list[dict]:
        seen, out = set(), []
        for resource in self.by_ref.values():
            if resource.get("resourceType") == resource_type and id(resource) not in seen:
                seen.add(id(resource))
                out.append(resource)
        return out


# --- datatypes back to v2 ---------------------------------------------------------------------

_FHIR_TIME = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                        r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def ts(value: str | None) -> str:
    """A FHIR date/dateTime/instant as a v2 TS (``YYYYMMDDHHMMSS+ZZZZ``)."""
    m = _FHIR_TIME.match(value or "")
    if not m:
        return ""
    *parts, zone = m.groups()
    text = "".join(p for p in parts if p)
    if zone:
        text += "+0000" if zone == "Z" else zone.replace(":", "")
    return text


def system_name(system: str | None) -> str:
    if not system:
        return ""
    reverse = table("coding-system").reverse(system)
    if reverse:
        return reverse[1]
    if system in _V2_TABLE_SYSTEMS:
        return _V2_TABLE_SYSTEMS[system]
    if system.startswith(dt.V2):
        return "HL7" + system.rsplit("-", 1)[1]
    if system.startswith(dt.LOCAL_CS):
        return unquote(system[len(dt.LOCAL_CS):])
    if system.startswith("urn:oid:"):
        return system[8:]
    return system


def cwe(concept: dict | None) -> list:
    if not concept:
        return []
    coding = (concept.get("coding") or [{}])[0]
    return [coding.get("code", ""), coding.get("display") or concept.get("text", ""), system_name(coding.get("system"))]


def ei(identifier: dict) -> list:
    """Identifier → EI components (the inverse of ``datatypes.ei``)."""
    system, value = identifier.get("system", ""), identifier.get("value", "")
    if system.startswith(dt.LOCAL_SID):
        return [value, unquote(system[len(dt.LOCAL_SID):])]
    if system.startswith("urn:oid:"):
        return [value, "", system[8:], "ISO"]
    if system:
        return [value, "", system, "URI"]
    return [value]


def referral_ei(sr: dict) -> list:
    identifiers = sr.get("identifier") or []
    if identifiers:
        return ei(identifiers[0])
    return [sr.get("id", ""), OWN_NAMESPACE]


def cx(identifier: dict) -> list:
    system, value = identifier.get("system", ""), identifier.get("value", "")
    type_code = ((identifier.get("type") or {}).get("coding") or [{}])[0].get("code", "")
    reverse = table("identifier-type").reverse(system)
    if reverse and not type_code and reverse[0].startswith(dt.V2):
        type_code = reverse[1]
    if system == dt.ID_CARD:
        type_code = type_code or "NNCHN"
    if system.startswith(dt.LOCAL_SID):
        return [value, "", "", unquote(system[len(dt.LOCAL_SID):]), type_code]
    if system.startswith("urn:oid:"):
        return [value, "", "", ["", system[8:], "ISO"], type_code]
    return [value, "", "", ["", system, "URI"] if system else "", type_code]


def xpn(name: dict) -> list:
    family = name.get("family", "")
    given = name.get("given", [])
    if not family and not given and name.get("text"):
        text = name["text"]
        family, given = (text[:1], [text[1:]]) if dt.cjk(text) else ("", [text])
    reverse = table("name-type").reverse(name.get("use"))
    return [family, given[0] if given else "", given[1] if len(given) > 1 else "", "", "", "",
            reverse[1] if reverse else ""]


def xad(address: dict) -> list:
    lines = address.get("line", [])
    reverse = table("address-type").reverse(address.get("use"))
    street = lines[0] if lines else ("" if address.get("city") else address.get("text", ""))
    return [street, lines[1] if len(lines) > 1 else "", address.get("city", ""), address.get("state", ""),
            address.get("postalCode", ""), address.get("country", ""), reverse[1] if reverse else "", "",
            address.get("district", "")]


def xtn(point: dict) -> list:
    use = table("telecom-use").reverse(point.get("use"))
    equipment = {"phone": "CP" if point.get("use") == "mobile" else "PH", "fax": "FX", "email": "Internet",
                 "pager": "BP"}.get(point.get("system", ""), "PH")
    if point.get("system") == "email":
        return ["", "NET", "Internet", point.get("value", "")]
    return [point.get("value", ""), use[1] if use else "", equipment]


def xon(org: dict | None) -> list:
    if not org:
        return []
    identifier = (org.get("identifier") or [{}])[0]
    type_code = ""
    reverse = table("identifier-type").reverse(identifier.get("system"))
    if reverse:
        type_code = reverse[1]
    return [org.get("name", ""), "", "", "", "", "", type_code, "", "", identifier.get("value", "")]


# --- segments --------------------------------------------------------------------------------

def pid(patient: dict) -> str:
    ethnicity = next((e.get("valueCodeableConcept") for e in patient.get("extension", [])
                      if e.get("url") == SD + "jiayi-ethnicity"), None)
    ethnic = []
    if ethnicity:
        coding = (ethnicity.get("coding") or [{}])[0]
        ethnic = [coding.get("code", ""), coding.get("display") or ethnicity.get("text", ""), "GB3304"]
    sex = table("sex").reverse(patient.get("gender"))
    phones = [p for p in patient.get("telecom", []) if p.get("use") != "work"]
    work = [p for p in patient.get("telecom", []) if p.get("use") == "work"]
    return build_segment(
        "PID", "1", "", tuple(cx(i) for i in patient.get("identifier", [])),
        "", tuple(xpn(n) for n in patient.get("name", [])), "", (patient.get("birthDate") or "").replace("-", ""),
        sex[1] if sex else "", "", "", tuple(xad(a) for a in patient.get("address", [])), "",
        tuple(xtn(p) for p in phones), tuple(xtn(p) for p in work), "", "", "", "", "", "", "", ethnic)


def prd(role: str, role_text: str, practitioner: dict | None, org: dict | None, display: str = "") -> str:
    names = tuple(xpn(n) for n in (practitioner or {}).get("name", []))
    if not names and display:
        names = (xpn({"text": display}),)
    ids = []
    for identifier in (practitioner or {}).get("identifier", []):
        reverse = table("identifier-type").reverse(identifier.get("system"))
        ids.append([identifier.get("value", ""), reverse[1] if reverse else ""])
    facility: str | list = ""
    if org:
        facility_id = next((i["value"] for i in org.get("identifier", [])
                            if i.get("system") == dt.SID + "hl7v2-facility"), "")
        if facility_id:
            facility = ["", "", "", [facility_id]]
    return build_segment("PRD", [role, role_text, "HL70286"], names,
                         tuple(xad(a) for a in (practitioner or {}).get("address", [])), facility,
                         tuple(xtn(t) for t in (practitioner or {}).get("telecom", [])), "", tuple(ids), "", "",
                         xon(org))


def _parties(res: Resources, reference: dict | None) -> tuple[dict | None, dict | None, str]:
    """A requester/performer reference → (Practitioner, Organization, display)."""
    target = res.get(reference)
    display = (reference or {}).get("display", "")
    if target is None:
        return None, None, display
    kind = target.get("resourceType")
    if kind == "Organization":
        return None, target, display
    if kind == "PractitionerRole":
        return res.get(target.get("practitioner")), res.get(target.get("organization")), display
    if kind == "Practitioner":
        return target, None, display
    return None, None, display


def _direction(sr: dict) -> tuple[str, str]:
    for extension in sr.get("extension", []):
        if extension.get("url") == _DIRECTION_URL:
            coding = extension.get("valueCoding") or {}
            return coding.get("code", "upward"), coding.get("display", "")
    return "upward", "上转"


def header(kind: list[str], sending: tuple[str, str], receiving: tuple[str, str], control: str, version: str,
           charset: str) -> str:
    return msh(sending[0], sending[1], receiving[0], receiving[1], now_ts(), kind, control, version, charset)


def ref_i12(res: Resources, sr: dict, task: dict | None = None, sending: tuple[str, str] = ("JIAYI", "JIAYI"),
            receiving: tuple[str, str] = ("", ""), control: str | None = None, version: str = "2.5",
            charset: str = "UNICODE UTF-8") -> tuple[str, list[str]]:
    """(control id, segments) of the REF^I12 for a referral."""
    control = control or new_control_id()
    patient = res.get(sr.get("subject")) or {"identifier": [], "name": []}
    direction = _direction(sr)
    priority = table("referral-priority").reverse(sr.get("priority"))
    status = table("referral-status").reverse((task or {}).get("status")) if task else None
    reasons = []
    for concept in sr.get("reasonCode", []):
        coding = (concept.get("coding") or [{}])[0]
        if coding.get("system", "").endswith("v2-0336"):
            reasons.append([coding.get("code", ""), coding.get("display", ""), "HL70336"])
    segments = [
        header(["REF", "I12", "REF_I12"], sending, receiving, control, version, charset),
        build_segment("RF1", [status[1], "", "HL70283"] if status else ["P", "Pending", "HL70283"],
                      [priority[1], "", "HL70280"] if priority else "", [direction[0], direction[1]], "", "",
                      referral_ei(sr), ts(sr.get("authoredOn")), "", "", tuple(reasons)),
    ]
    practitioner, org, display = _parties(res, sr.get("requester"))
    segments.append(prd("RP", "Referring Provider", practitioner, org, display))
    performers = [_parties(res, p) for p in sr.get("performer", [])]
    referred_org = next((o for _, o, _ in performers if o), None)
    referred_practitioner = next((p for p, _, _ in performers if p), None)
    owner = res.get(task.get("owner")) if task else None
    if owner and owner.get("resourceType") == "Organization":
        referred_org = referred_org or owner
    segments.append(prd("RT", "Referred to Provider", referred_practitioner, referred_org))
    segments.append(pid(patient))
    number = 0
    for reference in sr.get("reasonReference", []):
        condition = res.get(reference)
        if condition and condition.get("resourceType") == "Condition":
            number += 1
            segments.append(build_segment("DG1", str(number), "", cwe(condition.get("code")),
                                          (condition.get("code") or {}).get("text", ""),
                                          ts(condition.get("onsetDateTime")), "F"))
    for concept in sr.get("reasonCode", []):
        coding = (concept.get("coding") or [{}])[0]
        if coding.get("system", "").endswith("v2-0336") or not coding.get("code"):
            continue
        number += 1
        segments.append(build_segment("DG1", str(number), "", cwe(concept), concept.get("text", ""), "", "W"))
    for index, note in enumerate(sr.get("note", []), start=1):
        segments.append(build_segment("NTE", str(index), "P", note.get("text", "")))
    return control, segments


def rri_i12(res: Resources, sr: dict, task: dict, sending: tuple[str, str] = ("JIAYI", "JIAYI"),
            receiving: tuple[str, str] = ("", ""), control: str | None = None, version: str = "2.5",
            charset: str = "UNICODE UTF-8") -> tuple[str, list[str]]:
    """(control id, segments) of the RRI^I12 telling the referral's requester where its Task stands."""
    control = control or new_control_id()
    status = table("referral-status").reverse(task.get("status"))
    reason = (task.get("statusReason") or {}).get("text", "")
    returned = None
    for output in task.get("output", []):
        target = res.get(output.get("valueReference"))
        if target and target.get("resourceType") == "ServiceRequest":
            returned = target
    segments = [
        header(["RRI", "I12", "RRI_I12"], sending, receiving, control, version, charset),
        build_segment("RF1", [status[1]] if status else "",
                      "", "", "", "", referral_ei(sr), ts(task.get("lastModified") or task.get("authoredOn")), "",
                      "", ["", reason] if reason else "", referral_ei(returned) if returned else ""),
    ]
    practitioner, org, display = _parties(res, sr.get("requester"))
    segments.append(prd("RP", "Referring Provider", practitioner, org, display))
    owner = res.get(task.get("owner"))
    segments.append(prd("RT", "Referred to Provider", None, owner if owner and owner.get("resourceType") ==
                        "Organization" else None))
    patient = res.get(sr.get("subject"))
    if patient:
        segments.append(pid(patient))
    if reason:
        segments.append(build_segment("NTE", "1", "P", reason))
    return control, segments


def convert_fhir(resource: dict, sending: tuple[str, str] = ("JIAYI", "JIAYI"),
                 receiving: tuple[str, str] = ("", "")) -> bytes:
    """A ServiceRequest (or a Bundle holding one with its Patient, ...) → REF^I12 bytes."""
    if resource.get("resourceType") == "Bundle":
        res = Resources.from_bundle(resource)
        requests = [r for r in res.of_type("ServiceRequest")]
        tasks = res.of_type("Task")
    elif resource.get("resourceType") == "ServiceRequest":
        res = Resources([resource])
        requests, tasks = [resource], []
    else:
        raise ValueError(f"expected a ServiceRequest or a Bundle, got {resource.get('resourceType')!r}")
    if not requests:
        raise ValueError("no ServiceRequest in the Bundle")
    sr = requests[0]
    task = next((t for t in tasks if res.get(t.get("focus")) is sr), None)
    _, segments = ref_i12(res, sr, task, sending, receiving)
    return encode(segments)
