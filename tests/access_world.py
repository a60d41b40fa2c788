"""Who sees what (SPEC §6): a small district for the access tests, 25 residents under unique ids.

- team A (doctor A): one household contract in force with 3 residents (head, spouse, child),
  and an expired contract with a 4th resident;
- team B (doctor B): a contract in force with 2 other residents;
- a hospital doctor whose PractitionerRole is at the hospital: a referral (ServiceRequest
  performed by the hospital) for a 6th resident;
- the child has a guardian (RelatedPerson); the head is a resident with a patient/ token;
- a public-health officer of the district (jiayi_region): 2 residents managed by a centre
  whose ``partOf`` is the district, one managed by a centre outside it;
- every resident has 4 Observations; one of the head's names a stranger as performer.

Works with anything that can send FHIR JSON: ``send(method, url, body) -> (status, json)``.
"""

from __future__ import annotations

from datetime import date, timedelta

from contract_data import World, patient

OBSERVATIONS_EACH = 4
RESIDENTS = 25


def _ref(reference: str) -> dict:
    return {"reference": reference}


class AccessWorld(World):
    def __init__(self, unique: str) -> None:
        super().__init__(unique)
        u = unique
        self.extra = [f"r{i:02d}-{u}" for i in range(RESIDENTS - 3)]
        self.lapsed, self.b1, self.b2, self.referred, self.ph1, self.ph2, self.outside = self.extra[:7]
        self.stranger = self.extra[7]
        self.hospital, self.hospital_doctor, self.hospital_role = f"hosp-{u}", f"hdoc-{u}", f"hrole-{u}"
        self.district, self.centre, self.other_centre = f"dist-{u}", f"ctr-{u}", f"ctr2-{u}"
        self.guardian = f"rp-{u}"
        self.officer = f"ph-{u}"

    @property
    def residents(self) -> list[str]:
        return [self.head, self.spouse, self.child, *self.extra]

    def build(self, send) -> AccessWorld:
        def put(resource: dict) -> None:
            status, body = send("PUT", f"{resource['resourceType']}/{resource['id']}", resource)
            assert status in (200, 201), (resource["id"], body)

        for resource in self.resources():
            if resource.get("id") == self.child:
                resource["birthDate"] = f"{date.today().year - 8}-05-01"  # a minor, with a guardian
            put(resource)
        for resource in self._more():
            put(resource)
        today = date.today()
        start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # the first of last month
        end = date(start.year + 1, start.month, 1) - timedelta(days=1)
        old_start = date(today.year - 2, 1, 1)
        contracts = [self.contract(subjects=[self.head, self.spouse, self.child], household=True,
                                   start=start.isoformat(), end=end.isoformat()),
                     self.contract(subjects=[self.lapsed], start=old_start.isoformat(),
                                   end=(date(old_start.year + 1, 1, 1) - timedelta(days=1)).isoformat()),
                     self.contract(subjects=[self.b1, self.b2], team=self.other_team, start=start.isoformat(),
                                   end=end.isoformat())]
        for contract in contracts:
            status, body = send("POST", "Contract", contract)
            assert status == 201, body
        status, body = send("POST", "", self._observations())
        assert status == 200, body
        return self

    def _more(self) -> list[dict]:
        managed = {self.ph1: self.centre, self.ph2: self.centre, self.outside: self.other_centre}
        residents = []
        for pid in self.extra:
            resident = patient(pid, self.card(pid))
            if pid in managed:
                resident["managingOrganization"] = _ref(f"Organization/{managed[pid]}")
            residents.append(resident)
        return [
            {"resourceType": "Organization", "id": self.district, "name": "测试区卫生健康委员会"},
            {"resourceType": "Organization", "id": self.centre, "name": "测试社区卫生服务中心",
             "partOf": _ref(f"Organization/{self.district}")},
            {"resourceType": "Organization", "id": self.other_centre, "name": "区外社区卫生服务中心"},
            {"resourceType": "Organization", "id": self.hospital, "name": "测试区人民医院"},
            {"resourceType": "Practitioner", "id": self.hospital_doctor, "name": [{"text": "赵医生"}]},
            {"resourceType": "Practitioner", "id": self.officer, "name": [{"text": "钱科长"}]},
            {"resourceType": "PractitionerRole", "id": self.hospital_role, "active": True,
             "practitioner": _ref(f"Practitioner/{self.hospital_doctor}"),
             "organization": _ref(f"Organization/{self.hospital}")},
            *residents,
            {"resourceType": "RelatedPerson", "id": f"{self.guardian}-adult", "active": True,
             "patient": _ref(f"Patient/{self.spouse}"), "name": [{"text": "配偶"}],
             "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                           "code": "GUARD"}]}]},
            {"resourceType": "RelatedPerson", "id": self.guardian, "active": True,
             "patient": _ref(f"Patient/{self.child}"),
             "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                           "code": "GUARD"}]}], "name": [{"text": "监护人"}]},
            {"resourceType": "ServiceRequest", "id": f"sr-{self.unique}", "status": "active", "intent": "order",
             "subject": _ref(f"Patient/{self.referred}"), "performer": [_ref(f"Organization/{self.hospital}")],
             "code": {"text": "上转"}},
        ]

    def _observations(self) -> dict:
        entries = []
        for pid in self.residents:
            for n in range(OBSERVATIONS_EACH):
                observation = {"resourceType": "Observation", "status": "final",
                               "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                               "subject": _ref(f"Patient/{pid}"), "effectiveDateTime": f"2026-0{n + 1}-01",
                               "valueQuantity": {"value": 70 + n, "unit": "/min", "system": "http://unitsofmeasure.org",
                                                 "code": "/min"}}
                if pid == self.head and n == 0:
                    observation["performer"] = [_ref(f"Patient/{self.stranger}")]
                entries.append({"resource": observation, "request": {"method": "POST", "url": "Observation"}})
        return {"resourceType": "Bundle", "type": "transaction", "entry": entries}

    # --- the principals: (scope, claims) ---------------------------------------------------------

    def principals(self) -> dict[str, tuple[str, dict]]:
        return {
            "doctor A": ("user/*.cruds", {"fhirUser": f"Practitioner/{self.doctor}"}),
            "doctor B": ("user/*.cruds", {"fhirUser": f"Practitioner/{self.other_doctor}"}),
            "hospital doctor": ("user/*.rs", {"fhirUser": f"Practitioner/{self.hospital_doctor}"}),
            "resident": ("patient/*.rs", {"fhirUser": f"Patient/{self.head}"}),
            "guardian": ("patient/*.rs", {"fhirUser": f"RelatedPerson/{self.guardian}"}),
            "public health": ("user/*.rs", {"fhirUser": f"Practitioner/{self.officer}",
                                            "jiayi_region": f"Organization/{self.district}"}),
            "system": ("system/*.rs", {"sub": "etl-client"}),
        }

    def sees(self) -> dict[str, set[str]]:
        """Which residents each principal sees (the system client: all of them)."""
        return {
            "doctor A": {self.head, self.spouse, self.child},
            "doctor B": {self.b1, self.b2},
            "hospital doctor": {self.referred},
            "resident": {self.head},
            "guardian": {self.child},
            "public health": {self.ph1, self.ph2},
            "system": set(self.residents),
        }
