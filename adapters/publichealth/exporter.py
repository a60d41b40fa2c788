"""Export FHIR back to the legacy forms (for the provincial platform), over REST with paging.

The server is searched by the business-identifier system of the form (``identifier=system|``)
and, when given, the date range on the form's main date (Encounter ``date``, Contract
``issued``, ServiceRequest ``authored``, Patient ``_lastUpdated``); every referenced
resource (Patient, Organization, Practitioner...) is fetched in ``_id`` chunks and cached.
The institution filter keeps the records whose institution column (建档单位编码, 签约机构编码,
机构编码, 随访机构编码, 转出/转入机构编码) equals the code given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from ..fhir_client import Auth, FhirClient
from . import mapping, readers, tables, writers

_MAIN = {
    "resident": ("Patient", mapping.ID_CARD, "_lastUpdated"),
    "contract": ("Contract", mapping.CONTRACT_NUMBER, "issued"),
    "team": ("CareTeam", mapping.TEAM_CODE, "_lastUpdated"),
    "hypertension-follow-up": ("Encounter", mapping.VISIT_SYSTEMS["hypertension-follow-up"], "date"),
    "diabetes-follow-up": ("Encounter", mapping.VISIT_SYSTEMS["diabetes-follow-up"], "date"),
    "referral": ("ServiceRequest", mapping.REFERRAL_NUMBER, "authored"),
}
_INSTITUTION = ("institution_code", "from_code", "to_code")


class Resolver:
    """Reference → resource, fetched by ``_id`` in chunks and cached."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client
        self.cache: dict[str, dict | None] = {}

    def prefetch(self, resources: Iterable[dict]) -> None:
        wanted: dict[str, set[str]] = {}
        for res in resources:
            for ref in _references(res):
                if ref not in self.cache and "/" in ref and "?" not in ref:
                    res_type, rid = ref.split("/")[-2:]
                    wanted.setdefault(res_type, set()).add(rid)
        for res_type, ids in wanted.items():
            ids_list = sorted(ids)
            for start in range(0, len(ids_list), 100):
                chunk = ids_list[start:start + 100]
                for rid in chunk:
                    self.cache.setdefault(f"{res_type}/{rid}", None)
                for entry in self.client.pages(res_type, {"_id": ",".join(chunk), "_count": "200"}):
                    res = entry["resource"]
                    self.cache[f"{res['resourceType']}/{res['id']}"] = res

    def __call__(self, ref: str | None) -> dict | None:
        if not ref:
            return None
        ref = "/".join(ref.split("/")[-2:])
        if ref not in self.cache:
            self.prefetch([{"x": {"reference": ref}}])
        return self.cache.get(ref)


def _references(node) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def fetch(record_type: str, client: FhirClient, date_from: dt.date | None = None, date_to: dt.date | None = None,
          institution: str | None = None) -> list[dict]:
    """The records of one form held by the server, as normalised dicts (the importer's shape)."""
    tables.form(record_type)
    res_type, system, date_param = _MAIN[record_type]
    params: list[tuple[str, str]] = [("identifier", f"{system}|"), ("_count", "500")]
    if date_from:
        params.append((date_param, f"ge{date_from.isoformat()}"))
    if date_to:
        params.append((date_param, f"le{date_to.isoformat()}"))
    resources = [e["resource"] for e in client.pages(res_type, params, post=False)
                 if e.get("search", {}).get("mode") != "include"]
    resolver = Resolver(client)
    records: list[dict] = []
    if record_type == "resident":
        members: dict[str, tuple[str | None, str | None]] = {}
        for entry in client.pages("Group", [("identifier", f"{mapping.HOUSEHOLD}|"), ("_count", "500")], post=False):
            group = entry["resource"]
            number = mapping.ident_value(group, mapping.HOUSEHOLD)
            for m in group.get("member", []):
                relation = next((c["code"] for e in m.get("extension", []) if e.get("url") == mapping.RELATIONSHIP
                                 for c in e["valueCodeableConcept"]["coding"]), None)
                members["/".join(m["entity"]["reference"].split("/")[-2:])] = (number, relation)
        history: dict[str, list[dict]] = {}
        for entry in client.pages("Observation", [("identifier", f"{mapping.RESIDENT_FORM}|"), ("_count", "500")],
                                  post=False):
            obs = entry["resource"]
            history.setdefault((obs.get("subject") or {}).get("reference", "").split("/")[-1], []).append(obs)
        resolver.prefetch(resources)
        for patient in resources:
            org = resolver((patient.get("managingOrganization") or {}).get("reference"))
            records.append(mapping.read_resident(patient, org, members.get(f"Patient/{patient['id']}"),
                                                 history.get(patient["id"], [])))
    elif record_type == "contract":
        resolver.prefetch(resources)
        for res in resources:
            records += mapping.read_contract(res, resolver)
    elif record_type == "team":
        resolver.prefetch(resources)
        for res in resources:
            records += mapping.read_team(res, resolver)
    elif record_type == "referral":
        resolver.prefetch(resources)
        for res in resources:
            records.append(mapping.read_referral(res, resolver))
    else:
        by_encounter: dict[str, list[dict]] = {}  # the visit's Observations
        medicines: dict[str, list[dict]] = {}  # its MedicationStatements and MedicationRequests
        ids = [r["id"] for r in resources]
        for start in range(0, len(ids), 100):
            chunk = ",".join(f"Encounter/{i}" for i in ids[start:start + 100])
            for res_type, param, found in (("Observation", "encounter", by_encounter),
                                           ("MedicationStatement", "context", medicines),
                                           ("MedicationRequest", "encounter", medicines)):
                for entry in client.pages(res_type, {param: chunk, "_count": "1000"}):
                    res = entry["resource"]
                    visit = (res.get(param) or {}).get("reference", "")
                    found.setdefault(visit.split("/")[-1], []).append(res)
        resolver.prefetch(resources)
        for enc in resources:
            records.append(mapping.read_follow_up(record_type, enc, by_encounter.get(enc["id"], []), resolver,
                                                  medicines.get(enc["id"], [])))
    if institution:
        records = [r for r in records if institution in (r.get(k) for k in _INSTITUTION)]
    return records


def export_file(record_type: str, server: str, output: str | Path, *, date_from: dt.date | None = None,
                date_to: dt.date | None = None, institution: str | None = None, fmt: str | None = None,
                client: FhirClient | None = None, auth: Auth | None = None) -> int:
    """Write the form's records to ``output`` (format from the extension); the number of rows."""
    fmt = fmt or readers.detect_format(output)
    client = client or FhirClient(server, auth=auth, timeout=300.0)
    records = fetch(record_type, client, date_from, date_to, institution)
    writers.write(output, record_type, records, fmt)
    return len(records)
