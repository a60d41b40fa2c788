"""Test data for the family-doctor rules: a small world (institution, doctor, team, package,
household) under unique ids, and contracts built over it (STYLE habit 9: factories with
overrides).  Works with anything that can PUT: the Flask test client or ``requests``."""

from __future__ import annotations

import copy

from fhir_server.core import jiayi_names as n

JSON = {"Content-Type": "application/fhir+json"}


def ref(reference: str) -> dict:
    return {"reference": reference}


def organization(oid: str, **extra) -> dict:
    return {"resourceType": "Organization", "id": oid, "name": f"测试社区卫生服务中心{oid[-4:]}", **extra}


def practitioner(pid: str, card: str) -> dict:
    return {"resourceType": "Practitioner", "id": pid, "identifier": [{"system": n.DOCTOR_CARD, "value": card}],
            "name": [{"text": "李医生", "family": "李", "given": ["医生"]}]}


def patient(pid: str, id_card: str, social: str | None = None) -> dict:
    identifiers = [{"system": n.ID_CARD, "value": id_card}]
    if social:
        identifiers.append({"system": n.SOCIAL_SECURITY, "value": social})
    return {"resourceType": "Patient", "id": pid, "identifier": identifiers,
            "name": [{"text": "王秀英", "family": "王", "given": ["秀英"]}], "gender": "female",
            "birthDate": "1950-03-04"}


def participant(member: str, role: str, lead: bool = False) -> dict:
    p = {"role": [{"coding": [{"system": n.TEAM_ROLE, "code": role}]}], "member": ref(member)}
    return {"extension": [{"url": n.TEAM_LEAD, "valueBoolean": True}], **p} if lead else p


def care_team(tid: str, org: str, participants: list[dict], capacity: int | None = None) -> dict:
    team = {"resourceType": "CareTeam", "id": tid, "status": "active",
            "category": [{"coding": [{"system": n.CARE_TEAM_CATEGORY, "code": "family-doctor-team"}]}],
            "participant": participants, "managingOrganization": [ref(f"Organization/{org}")]}
    if capacity is not None:
        team["extension"] = [{"url": n.TEAM_CAPACITY, "valuePositiveInt": capacity}]
    return team


def package(pid: str, price: float, items: dict[str, int]) -> dict:
    return {"resourceType": "PlanDefinition", "id": pid, "status": "active", "title": "基础签约服务包",
            "extension": [{"url": n.ANNUAL_PRICE, "valueMoney": {"value": price, "currency": "CNY"}}],
            "action": [{"code": [{"coding": [{"system": n.SERVICE_ITEM, "code": code}]}],
                        "timingTiming": {"repeat": {"frequency": times, "period": 1, "periodUnit": "a"}}}
                       for code, times in items.items()]}


def household(gid: str, head: str, others: list[str]) -> dict:
    members = [{"extension": [{"url": n.HOUSEHOLD_HEAD, "valueBoolean": True}], "entity": ref(head)}]
    members += [{"entity": ref(o)} for o in others]
    return {"resourceType": "Group", "id": gid, "type": "person", "actual": True, "member": members}


class World:
    """One institution, a lead doctor and a nurse, a team, a 120 元 package and a household
    of three (head, spouse, child), all with ids ending in ``unique``."""

    def __init__(self, unique: str, capacity: int | None = None) -> None:
        u = self.unique = unique
        self.org = f"org-{u}"
        self.doctor, self.nurse, self.other_doctor = f"doc-{u}", f"nurse-{u}", f"doc2-{u}"
        self.doctor_card, self.other_card = f"YS{u}", f"YT{u}"
        self.team, self.other_team = f"team-{u}", f"team2-{u}"
        self.package, self.extra_package = f"pkg-{u}", f"pkgx-{u}"
        self.head, self.spouse, self.child = f"p1-{u}", f"p2-{u}", f"p3-{u}"
        self.group = f"hh-{u}"
        self.capacity = capacity

    def card(self, who: str) -> str:
        return f"ID{who}"

    def resources(self) -> list[dict]:
        return [organization(self.org), practitioner(self.doctor, self.doctor_card),
                practitioner(self.nurse, f"YN{self.unique}"), practitioner(self.other_doctor, self.other_card),
                care_team(self.team, self.org, [participant(f"Practitioner/{self.doctor}", "family-doctor", True),
                                                participant(f"Practitioner/{self.nurse}", "nurse")], self.capacity),
                care_team(self.other_team, self.org,
                          [participant(f"Practitioner/{self.other_doctor}", "village-doctor", True)]),
                package(self.package, 120, {"health-education": 2, "health-consultation": 4}),
                package(self.extra_package, 150, {"hypertension-follow-up": 4}),
                *(patient(p, self.card(p), f"S{p}") for p in (self.head, self.spouse, self.child)),
                household(self.group, f"Patient/{self.head}", [f"Patient/{self.spouse}", f"Patient/{self.child}"])]

    def load(self, put) -> World:
        """``put(url, resource)`` → a response with ``status_code``."""
        for resource in self.resources():
            response = put(f"{resource['resourceType']}/{resource['id']}", resource)
            assert response.status_code in (200, 201), (resource["id"], getattr(response, "text", response))
        return self

    def contract(self, subjects: list[str] | None = None, start: str = "2026-01-01", end: str = "2026-12-31",
                 status: str = "executed", team: str | None = None, signer: str | None = None,
                 household: bool = False, fees: list[float] | None = None, cid: str | None = None,
                 auto_renew: bool | None = None) -> dict:
        people = subjects or [self.head]
        refs = [ref(f"Patient/{p}") for p in people]
        fees = fees if fees is not None else [70 * len(people), 50 * len(people)]
        contract = {"resourceType": "Contract", "status": status,
                    "type": {"coding": [{"system": n.CONTRACT_TYPE, "code": "family-doctor"}]},
                    "extension": [{"url": n.CONTRACT_CARE_TEAM, "valueReference": ref(f"CareTeam/{team or self.team}")},
                                  {"url": n.COMBINATION_HOSPITAL, "extension": [
                                      {"url": "level", "valueCode": "district"},
                                      {"url": "organization", "valueReference": ref(f"Organization/{self.org}")}]}],
                    "issued": f"{start}T09:00:00+08:00", "applies": {"start": start, "end": end},
                    "subject": refs, "authority": [ref(f"Organization/{self.org}")],
                    "signer": [{"type": {"system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                                         "code": "PAT"}, "party": ref(signer or f"Patient/{people[0]}"),
                                "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013",
                                                         "code": "1.2.840.10065.1.12.1.7"}],
                                               "when": f"{start}T09:00:00+08:00",
                                               "who": ref(signer or f"Patient/{people[0]}")}]}],
                    "term": [{"topicReference": ref(f"PlanDefinition/{self.package}"),
                              "offer": {"party": [{"reference": copy.deepcopy(refs), "role": {"text": "服务对象"}}]},
                              "asset": [{"valuedItem": [{"net": {"value": v, "currency": "CNY"}} for v in fees]}]}]}
        if household:
            contract["extension"].append({"url": n.CONTRACT_HOUSEHOLD, "valueReference": ref(f"Group/{self.group}")})
        if auto_renew is not None:
            contract["extension"].append({"url": n.AUTO_RENEW, "valueBoolean": auto_renew})
        if cid:
            contract["id"] = cid
        return contract


def rules(outcome: dict) -> list[str]:
    """The business rules an OperationOutcome names."""
    return [c["code"] for i in outcome.get("issue", []) for c in (i.get("details") or {}).get("coding", [])]


# --- over the Flask test client ------------------------------------------------------------------

def put(client):
    return lambda url, resource: client.put(f"/fhir/{url}", json=resource, headers=JSON)


def world(client, unique: str, capacity: int | None = None) -> World:
    return World(unique, capacity).load(put(client))


def post(client, url: str, body: dict):
    return client.post(f"/fhir/{url}", json=body, headers=JSON)


def parameters(**values) -> dict:
    """Parameters from keyword arguments: ``reason=("valueCode", "death")``; a list repeats."""
    out = []
    for name, value in values.items():
        for kind, v in value if isinstance(value, list) else [value]:
            out.append({"name": name, kind: v})
    return {"resourceType": "Parameters", "parameter": out}
