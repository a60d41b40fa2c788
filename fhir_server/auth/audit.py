"""AuditEvent content for a REST interaction, after the IHE Basic Audit Log Patterns (BALP):
type ``rest``, subtype the FHIR interaction, action C/R/U/D/E, recorded, outcome, the user
(fhirUser) and the client application with its network address, and one entity per resource
touched plus the Patient(s) whose record it is (SPEC §6, Appendix A).  Pure data, no storage."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from fhir_server.auth.principal import Principal
from fhir_server.core.references import reference_strings

AUDIT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
# codes without display texts: every string of a stored resource costs full-text index work
INTERACTION = "http://hl7.org/fhir/restful-interaction"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
CLIENT_ID = "https://jiayi.dev/fhir/sid/oauth-client"
SUBJECT = "https://jiayi.dev/fhir/sid/token-subject"
ACTIONS = {"create": "C", "read": "R", "vread": "R", "search-type": "E", "search-system": "E",
           "history-instance": "R", "history-type": "R", "update": "U", "patch": "U", "delete": "D",
           "operation": "E"}


@dataclass(slots=True)
class Audited:
    """What one interaction touched: its kind and outcome, resources and patients."""

    interaction: str  # read | vread | search-type | create | update | patch | delete | history-… | operation
    status: int  # HTTP status of the outcome
    entities: list[str] = field(default_factory=list)  # Type/id
    patients: list[str] = field(default_factory=list)  # Patient ids
    query: str | None = None  # a search's query string
    message: str | None = None  # why it failed


def outcome_code(status: int) -> str:
    """0 success, 4 minor failure (bad request), 8 serious failure (refused: 401/403), 12 major (5xx)."""
    if status < 400:
        return "0"
    if status in (401, 403):
        return "8"
    return "4" if status < 500 else "12"


def audit_event(principal: Principal, audited: Audited, recorded: datetime) -> dict:
    event: dict = {
        "resourceType": "AuditEvent",
        "type": AUDIT_TYPE,
        "subtype": [{"system": INTERACTION, "code": audited.interaction}],
        "action": ACTIONS.get(audited.interaction, "E"),
        "recorded": recorded.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "outcome": outcome_code(audited.status),
        "agent": _agents(principal),
        "source": {"observer": {"display": "Jiayi"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]},
    }
    if audited.message:
        event["outcomeDesc"] = audited.message[:500]
    entities = [_entity(e) for e in audited.entities]
    entities += [_patient(p) for p in audited.patients if f"Patient/{p}" not in audited.entities]
    if audited.query is not None:
        entities.append({"type": {"system": ENTITY_TYPE, "code": "2"}, "role": {"system": OBJECT_ROLE, "code": "24"},
                         "query": base64.b64encode(audited.query.encode("utf-8")).decode("ascii")})
    if entities:
        event["entity"] = entities
    return event


def _agents(principal: Principal) -> list[dict]:
    user: dict = {"type": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]}}
    if principal.fhir_user:
        user["who"] = {"reference": principal.fhir_user}
    elif principal.subject:
        user["who"] = {"identifier": {"system": SUBJECT, "value": principal.subject}}
    user["requestor"] = True  # no who: a request without a valid token (only its address is known)
    if principal.remote_addr:
        user["network"] = {"address": principal.remote_addr, "type": "2"}
    agents = [user]
    if principal.client_id:
        agents.append({"type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM",
                                            "code": "110150"}]},
                       "who": {"identifier": {"system": CLIENT_ID, "value": principal.client_id}},
                       "requestor": False})
    return agents


def _entity(reference: str) -> dict:
    if reference.startswith("Patient/"):
        return _patient(reference.split("/", 1)[1])
    return {"what": {"reference": reference}, "type": {"system": ENTITY_TYPE, "code": "2"},
            "role": {"system": OBJECT_ROLE, "code": "4"}}


def _patient(patient_id: str) -> dict:
    return {"what": {"reference": f"Patient/{patient_id}"}, "type": {"system": ENTITY_TYPE, "code": "1"},
            "role": {"system": OBJECT_ROLE, "code": "1"}}


def patients_in(resource: dict | None) -> list[str]:
    """The Patients a resource is about: itself, or the Patients it refers to (the compartment's
    references, found by walking the resource rather than by its search parameters)."""
    if not isinstance(resource, dict):
        return []
    if resource.get("resourceType") == "Patient":
        return [str(resource.get("id"))] if resource.get("id") else []
    found: dict[str, None] = {}
    for reference in reference_strings(resource, skip_contained=True):
        if "Patient/" in reference:
            tail = reference.rsplit("Patient/", 1)[1].split("/", 1)[0]
            if tail:
                found[tail] = None
    return list(found)


# Search parameters the server's own AuditEvents are not indexed for: every event of this module
# has the same few codes there (entity-type 1/2, entity-role 1/4/24), which say no more than
# ``entity``/``patient`` already do, and their rows were a sixth of an event's storage
# (docs/decisions.md, "Audited reads: ..."). A client's AuditEvent is indexed for them as usual.
NOT_INDEXED = ("entity-role", "entity-type")


def search_nodes(event: dict) -> dict[str, list[tuple[object, str]]]:
    """Every search parameter of AuditEvent (R4 base; ``_id``/``_lastUpdated`` are columns) →
    the event's values for it as ``(value, FHIR type)`` nodes: what each parameter's expression
    selects, picked directly out of an event of this module's shape (no FHIRPath per event);
    ``patient`` is the agents and entities that are Patients (its ``resolve() is Patient``).
    :data:`NOT_INDEXED` are named with no values (left out on purpose, not evaluated)."""
    meta, source = event.get("meta") or {}, event.get("source") or {}
    agents, entities = event.get("agent") or [], event.get("entity") or []
    who: list = []
    address: list = []
    agent_name: list = []
    agent_role: list = []
    altid: list = []
    policy: list = []
    for agent in agents:  # one pass over the agents and one over the entities: this runs per stored event
        _add(who, agent.get("who"), "Reference")
        _add(address, (agent.get("network") or {}).get("address"), "string")
        _add(agent_name, agent.get("name"), "string")
        _add(agent_role, agent.get("role"), "CodeableConcept")
        _add(altid, agent.get("altId"), "string")
        _add(policy, agent.get("policy"), "uri")
    what: list = []
    entity_name: list = []
    for entity in entities:
        _add(what, entity.get("what"), "Reference")
        _add(entity_name, entity.get("name"), "string")
    return {
        "_profile": _each([meta], "profile", "canonical"), "_security": _each([meta], "security", "Coding"),
        "_source": _each([meta], "source", "uri"), "_tag": _each([meta], "tag", "Coding"),
        "action": _each([event], "action", "code"), "outcome": _each([event], "outcome", "code"),
        "date": _each([event], "recorded", "instant"), "type": _each([event], "type", "Coding"),
        "subtype": _each([event], "subtype", "Coding"), "agent": who, "address": address,
        "agent-name": agent_name, "agent-role": agent_role, "altid": altid, "policy": policy,
        "entity": what, "entity-name": entity_name,
        **dict.fromkeys(NOT_INDEXED, []),
        "site": _each([source], "site", "string"), "source": _each([source], "observer", "Reference"),
        "patient": [node for node in who + what if str(node[0].get("reference", "")).startswith("Patient/")],
    }


def _add(out: list, value: object, kind: str) -> None:
    if isinstance(value, list):
        out.extend((v, kind) for v in value)
    elif value is not None:
        out.append((value, kind))


def _each(items: list, name: str, kind: str) -> list:
    out: list = []
    for item in items:
        _add(out, item.get(name), kind)
    return out
