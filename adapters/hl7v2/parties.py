"""Organizations (facilities, XON) and Practitioners (PRD) of a message."""

from __future__ import annotations

from urllib.parse import quote

from fhir_server.core.national_ids import uscc_problems

from . import datatypes as dt
from .conversion import FACILITY_SID, SID, Conversion
from .er7 import Segment
from .tables import table


def facility_org(conv: Conversion, namespace: str, universal: str = "", name: str = "",
                 identifier: dict | None = None, tag: str = "") -> dict | None:
    """An Organization (conditional create) for a facility, by its identifier or HD."""
    if identifier is None:
        key = namespace or universal
        if not key:
            return None
        identifier = {"system": FACILITY_SID, "value": key}
    org: dict = {"resourceType": "Organization", "identifier": [identifier], "active": True,
                 "name": name or namespace or universal or identifier["value"]}
    url = conv.create(tag or f"org:{identifier['system']}|{identifier['value']}", org, identifier)
    for entry in conv.entries[:-1]:  # one Organization per identifier in a Bundle
        if entry["resource"]["resourceType"] == "Organization" and entry["resource"]["identifier"][0] == identifier:
            conv.entries.pop()
            return {"reference": entry["fullUrl"], "display": entry["resource"]["name"]}
    return {"reference": url, "display": org["name"]}


def xon_identifier(rep: dt.Rep) -> dict | None:
    """XON (name^type^id^check^scheme^authority^id type^facility^rep code^identifier) → Identifier."""
    value = rep.c(10) or rep.c(3)
    if not value:
        return None
    target = table("identifier-type").get(rep.c(7))
    if target:
        return {"system": target.code, "value": value}
    if len(value) == 18 and not uscc_problems(value):
        return {"system": SID + "uscc", "value": value}
    system = dt.authority_system(*dt.hd(rep, 6))
    return {"system": system or FACILITY_SID, "value": value}


def prd_parties(conv: Conversion, prd: Segment, fallback_facility: str) -> tuple[dict | None, dict | None]:
    """PRD → (Practitioner reference or None, Organization reference or None).

    A provider without an ID in PRD-7 but with a name (PRD-2) is still a Practitioner: one
    per name within the organization (identifier ``…/hl7v2/<organization>/provider-name``),
    so the referring doctor's name is kept and the same name from the same organization
    is the same Practitioner (docs/decisions.md: "HL7 v2: providers without an ID")."""
    org = None
    org_key = ""
    xon = dt.first(prd, 10)
    if xon is not None:
        identifier = xon_identifier(xon)
        if identifier:
            org = facility_org(conv, "", "", xon.c(1), identifier)
            org_key = identifier["value"]
    location = dt.first(prd, 4)
    if org is None and location is not None and location.s(4, 1):
        org = facility_org(conv, location.s(4, 1), location.s(4, 2), xon.c(1) if xon else "")
        org_key = location.s(4, 1)
    if org is None:
        org = facility_org(conv, fallback_facility, "", xon.c(1) if xon else "")
        org_key = fallback_facility
    names = [n for n in (dt.xpn(r) for r in dt.reps(prd, 2)) if n]
    identifiers = []
    for rep in dt.reps(prd, 7):
        if not rep.c(1):
            continue
        target = table("identifier-type").get(rep.c(2))
        facility = (org or {}).get("display") or fallback_facility
        system = target.code if target else dt.LOCAL_SID + quote(fallback_facility or facility, safe="") + "/provider"
        identifiers.append({"system": system, "value": rep.c(1)})
    if not identifiers and names and org_key:
        identifiers.append({"system": dt.LOCAL_SID + quote(org_key, safe="") + "/provider-name",
                            "value": names[0]["text"]})
    if not identifiers:
        if names:
            return {"display": names[0]["text"]}, org
        return None, org
    practitioner: dict = {"resourceType": "Practitioner", "identifier": identifiers, "active": True}
    if names:
        practitioner["name"] = names
    telecom = [t for t in (dt.xtn(r) for r in dt.reps(prd, 5)) if t]
    if telecom:
        practitioner["telecom"] = telecom
    addresses = [a for a in (dt.xad(r) for r in dt.reps(prd, 3)) if a]
    if addresses:
        practitioner["address"] = addresses
    url = conv.create(f"practitioner:{identifiers[0]['system']}|{identifiers[0]['value']}", practitioner,
                      identifiers[0])
    ref = {"reference": url}
    if names:
        ref["display"] = names[0]["text"]
    return ref, org
