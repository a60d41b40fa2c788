"""A small family-doctor world for the referral, slot and care-plan tests: a hospital with a
department and a doctor with a schedule, a community centre with a family-doctor team,
a resident with a contract in force naming the hospital in its "1+1+1" combination."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
SNOMED = "http://snomed.info/sct"


def ref(kind: str, rid: str) -> dict:
    return {"reference": f"{kind}/{rid}"}


def role(code: str) -> list[dict]:
    return [{"coding": [{"system": CS + "team-role", "code": code}]}]


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    p: str  # id prefix

    def id(self, name: str) -> str:
        return f"{self.p}-{name}"

    def resources(self) -> list[dict]:
        i, today = self.id, datetime.now(UTC).date()
        orgs = [
            {"resourceType": "Organization", "id": i("hosp"), "name": "示范市第一人民医院",
             "extension": [{"url": SD + "jiayi-public-booking-lead-days", "valueInteger": 7}]},
            {"resourceType": "Organization", "id": i("cardio"), "name": "心血管内科",
             "partOf": ref("Organization", i("hosp"))},
            {"resourceType": "Organization", "id": i("other"), "name": "外区医院"},
            {"resourceType": "Organization", "id": i("partner"), "name": "医联体医院",
             "extension": [{"url": SD + "jiayi-partner-hospital", "valueBoolean": True}]},
            {"resourceType": "Organization", "id": i("chc"), "name": "社区卫生服务中心"},
        ]
        people = [
            {"resourceType": "Practitioner", "id": i("fd"), "name": [{"text": "李医生"}]},
            {"resourceType": "Practitioner", "id": i("nurse"), "name": [{"text": "王护士"}]},
            {"resourceType": "Practitioner", "id": i("spec"), "name": [{"text": "赵主任"}]},
            {"resourceType": "PractitionerRole", "id": i("fd-role"), "practitioner": ref("Practitioner", i("fd")),
             "organization": ref("Organization", i("chc")), "code": role("family-doctor")},
            {"resourceType": "PractitionerRole", "id": i("spec-role"), "practitioner": ref("Practitioner", i("spec")),
             "organization": ref("Organization", i("cardio"))},
            {"resourceType": "CareTeam", "id": i("team"), "status": "active",
             "participant": [{"extension": [{"url": SD + "jiayi-team-lead", "valueBoolean": True}],
                              "role": role("family-doctor"), "member": ref("Practitioner", i("fd"))},
                             {"role": role("nurse"), "member": ref("Practitioner", i("nurse"))}]},
            {"resourceType": "Patient", "id": i("pat"), "name": [{"text": "张三"}], "gender": "male",
             "birthDate": "1950-03-04",
             "extension": [{"url": SD + "jiayi-key-population",
                            "valueCodeableConcept": {"coding": [{"system": CS + "key-population",
                                                                 "code": "hypertension"}]}}]},
            {"resourceType": "Contract", "id": i("ctr"), "status": "executed",
             "applies": {"start": (today - timedelta(days=200)).isoformat(),
                         "end": (today + timedelta(days=164)).isoformat()},
             "subject": [ref("Patient", i("pat"))],
             "extension": [{"url": SD + "jiayi-contract-care-team", "valueReference": ref("CareTeam", i("team"))},
                           {"url": SD + "jiayi-combination-hospital",
                            "extension": [{"url": "level", "valueCode": "city"},
                                          {"url": "organization", "valueReference": ref("Organization", i("hosp"))}]}]},
            {"resourceType": "Schedule", "id": i("sch"), "active": True,
             "actor": [ref("PractitionerRole", i("spec-role"))],
             "serviceType": [{"text": "心血管内科专家门诊"}]},
        ]
        return orgs + people

    def slot(self, name: str, days: float, reserved: bool, open_days_before: float | None = 14,
             status: str = "free") -> dict:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        slot: dict = {"resourceType": "Slot", "id": self.id(name)}
        if reserved:
            slot["extension"] = [{"url": SD + "jiayi-reserved-for-family-doctors", "valueBoolean": True}]
            if open_days_before is not None:
                slot["extension"].append({"url": SD + "jiayi-family-doctor-open-time",
                                          "valueDateTime": instant(start - timedelta(days=open_days_before))})
        slot.update(schedule=ref("Schedule", self.id("sch")), status=status, start=instant(start),
                    end=instant(start + timedelta(minutes=30)))
        return slot

    def referral(self, name: str, direction: str = "upward", requester: dict | None = None,
                 performer: str = "cardio", **extra) -> dict:
        sr = {"resourceType": "ServiceRequest", "id": self.id(name),
              "extension": [{"url": SD + "jiayi-referral-direction",
                             "valueCoding": {"system": CS + "referral-direction", "code": direction}}],
              "status": "active", "intent": "order",
              "category": [{"coding": [{"system": SNOMED, "code": "3457005"}]}],
              "subject": ref("Patient", self.id("pat")),
              "authoredOn": datetime.now(UTC).date().isoformat(),
              "requester": requester or ref("PractitionerRole", self.id("fd-role")),
              "performer": [ref("Organization", self.id(performer))]}
        sr.update(extra)
        return sr

    def task(self, name: str, focus: str, status: str = "requested", **extra) -> dict:
        task = {"resourceType": "Task", "id": self.id(name), "status": status, "intent": "order",
                "focus": ref("ServiceRequest", self.id(focus)), "for": ref("Patient", self.id("pat")),
                "owner": ref("Organization", self.id("cardio"))}
        task.update(extra)
        return task


def new_world() -> World:
    return World("w" + uuid.uuid4().hex[:10])


def valid_r4(resource: dict) -> bool:
    """Resources the server writes itself (not through validation on write) are valid R4 too."""
    from fhir_server.validation import validate_resource

    errors = [i for i in validate_resource(resource, resource["resourceType"]) if i.is_error]
    assert not errors, errors
    return True


def put(client, resource: dict):
    return client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)


def load(client, resources: list[dict]) -> None:
    for resource in resources:
        response = put(client, resource)
        assert response.status_code in (200, 201), response.get_json()


def service_package(package_id: str, items: dict[str, int], title: str | None = None) -> dict:
    """A service package (PlanDefinition): each service item and how often a year it is due."""
    return {"resourceType": "PlanDefinition", "id": package_id, "status": "active", "title": title or package_id,
            "action": [{"code": [{"coding": [{"system": CS + "service-item", "code": code}]}],
                        "timingTiming": {"repeat": {"frequency": n, "period": 1, "periodUnit": "a"}}}
                       for code, n in items.items()]}


def hypertension_package(world: World) -> dict:
    """The world's hypertension package (``pkg``): four follow-ups a year."""
    return service_package(world.id("pkg"), {"hypertension-follow-up": 4}, title="高血压服务包")


def applied_plan(client, world: World, pid: str, package: str = "pkg", statuses: tuple[int, ...] = (201,)) -> str:
    """``PlanDefinition/$apply`` of ``package`` for Patient ``pid``, persisted: the plan's id."""
    response = client.post(f"/fhir/PlanDefinition/{world.id(package)}/$apply",
                           json={"resourceType": "Parameters", "parameter": [
                               {"name": "subject", "valueString": f"Patient/{pid}"},
                               {"name": "persist", "valueBoolean": True}]})
    assert response.status_code in statuses, response.get_json()
    return response.get_json()["id"]


def resident_with_plan(client, world: World, package: str = "pkg") -> tuple[str, str]:
    """A new resident under a copy of the world's contract, with ``package`` applied and stored."""
    pid = world.id("r" + uuid.uuid4().hex[:8])
    contract = next(r for r in world.resources() if r["resourceType"] == "Contract")
    load(client, [{"resourceType": "Patient", "id": pid, "gender": "male"},
                  {**contract, "id": pid + "-ctr", "subject": [ref("Patient", pid)]}])
    return pid, applied_plan(client, world, pid, package)
