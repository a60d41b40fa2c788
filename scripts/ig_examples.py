"""Example instances of the Jiayi IG: one or more per profile, synthetic residents (area code 99)."""

from __future__ import annotations

import datetime as dt

from fhir_server.core.national_ids import make_id, make_uscc

SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
SID = "https://jiayi.dev/fhir/sid/"
ID_CARD = "urn:oid:2.16.156.10011.1.3"
HEALTH_RECORD = "urn:oid:2.16.156.10011.1.2"


def coding(cs: str, code: str, display: str) -> dict:
    return {"system": CS + cs if "://" not in cs else cs, "code": code, "display": display}


def concept(cs: str, code: str, display: str) -> dict:
    return {"coding": [coding(cs, code, display)], "text": display}


def ext(name: str, key: str, value) -> dict:
    return {"url": SD + name, key: value}


def meta(profile: str) -> dict:
    return {"profile": [SD + profile]}


def ref(target: str, display: str | None = None) -> dict:
    return {"reference": target, **({"display": display} if display else {})}


def money(value: float) -> dict:
    return {"value": value, "currency": "CNY"}


def patient(pid: str, name: tuple[str, str], sex: str, born: dt.date, seq: int, record: str,
            keys: list[tuple[str, str]]) -> dict:
    return {
        "resourceType": "Patient", "id": pid, "meta": meta("jiayi-patient"),
        "extension": [ext("jiayi-ethnicity", "valueCodeableConcept", concept("gb3304", "01", "汉族")),
                      ext("jiayi-household-registration", "valueCodeableConcept",
                          concept("household-registration", "1", "户籍"))]
        + [ext("jiayi-key-population", "valueCodeableConcept", concept("key-population", k, d)) for k, d in keys],
        "identifier": [{"use": "official", "system": ID_CARD, "value": make_id("990102", born, seq, sex)},
                       {"use": "usual", "system": HEALTH_RECORD, "value": record},
                       {"use": "secondary", "system": "urn:oid:2.16.840.1.113883.2.23.1.19.2",
                        "value": f"J{seq:08d}"}],
        "active": True,
        "name": [{"use": "official", "text": name[0] + name[1], "family": name[0], "given": [name[1]]}],
        "telecom": [{"system": "phone", "value": f"100{seq:08d}", "use": "mobile"}],
        "gender": sex, "birthDate": born.isoformat(),
        "address": [{"use": "home", "text": "示范省示范市宁和区和平街道康乐社区和平路1号6栋2单元1702室",
                     "city": "示范市", "district": "宁和区", "state": "示范省", "country": "CN"}],
        "managingOrganization": ref("Organization/org-phc-001", "宁和区和平街道社区卫生服务中心"),
    }


def examples() -> list[dict]:
    wang = patient("example-resident-wang", ("王", "建国"), "male", dt.date(1953, 6, 18), 11,
                   "99010200100100011", [("elderly-65", "65岁及以上老年人"), ("hypertension", "高血压患者")])
    li = patient("example-resident-li", ("李", "秀英"), "female", dt.date(1956, 2, 9), 12,
                 "99010200100100012", [("elderly-65", "65岁及以上老年人"), ("diabetes-t2", "2型糖尿病患者")])
    household = {
        "resourceType": "Group", "id": "example-household-wang", "meta": meta("jiayi-household"),
        "active": True, "type": "person", "actual": True, "name": "王建国户", "quantity": 2,
        "managingEntity": ref("Organization/org-phc-001"),
        "member": [{"extension": [ext("jiayi-household-head", "valueBoolean", True)],
                    "entity": ref("Patient/example-resident-wang", "王建国")},
                   {"entity": ref("Patient/example-resident-li", "李秀英")}],
    }
    team = {
        "resourceType": "CareTeam", "id": "example-team-zhao", "meta": meta("jiayi-family-doctor-team"),
        "extension": [ext("jiayi-team-type", "valueCodeableConcept", concept("team-type", "standard", "标准型")),
                      ext("jiayi-team-capacity", "valuePositiveInt", 1500)],
        "status": "active",
        "category": [concept("care-team-category", "family-doctor-team", "家庭医生团队")],
        "name": "和平街道社区卫生服务中心赵明家庭医生团队",
        "participant": [
            {"extension": [ext("jiayi-team-lead", "valueBoolean", True)],
             "role": [concept("team-role", "family-doctor", "家庭医生")],
             "member": ref("Practitioner/example-doctor-zhao", "赵明")},
            {"role": [concept("team-role", "nurse", "护士")], "member": ref("Practitioner/example-nurse-sun", "孙丽")},
            {"role": [concept("team-role", "public-health-physician", "公共卫生医师")],
             "member": ref("Practitioner/example-phys-zhou", "周强")},
        ],
        "managingOrganization": [ref("Organization/org-phc-001", "宁和区和平街道社区卫生服务中心")],
    }
    package = {
        "resourceType": "PlanDefinition", "id": "example-package-hypertension", "meta": meta("jiayi-service-package"),
        "extension": [ext("jiayi-package-tier", "valueCoding", coding("package-tier", "disease-specific", "专病包")),
                      ext("jiayi-annual-price", "valueMoney", money(150))],
        "name": "PKG_HYPERTENSION", "title": "高血压个性化服务包", "status": "active",
        "description": "高血压个性化服务包：每人每年150元（医保基金80元，财政补助20元，个人自付50元）。",
        "action": [
            {"title": title, "code": [concept("service-item", code, title)],
             "timingTiming": {"repeat": {"frequency": n, "period": 1, "periodUnit": "a"}}}
            for code, title, n in (("hypertension-follow-up", "高血压患者随访", 4),
                                   ("blood-pressure-measurement", "血压测量", 12),
                                   ("long-term-prescription", "长期处方", 4))],
    }
    contract = {
        "resourceType": "Contract", "id": "example-contract-wang", "meta": meta("jiayi-contract"),
        "extension": [
            ext("jiayi-contract-household", "valueReference", ref("Group/example-household-wang")),
            ext("jiayi-contract-care-team", "valueReference", ref("CareTeam/example-team-zhao")),
            {"url": SD + "jiayi-combination-hospital",
             "extension": [{"url": "level", "valueCode": "district"},
                           {"url": "organization",
                            "valueReference": ref("Organization/org-hosp-district", "宁和区人民医院")}]},
            {"url": SD + "jiayi-combination-hospital",
             "extension": [{"url": "level", "valueCode": "city"},
                           {"url": "organization",
                            "valueReference": ref("Organization/org-hosp-city", "示范市第一人民医院")}]},
            ext("jiayi-auto-renew", "valueBoolean", True),
            ext("jiayi-signing-channel", "valueCoding", coding("signing-channel", "in-person", "现场签约")),
        ],
        "identifier": [{"system": SID + "contract-number", "value": "QY00120260000011"}],
        "status": "executed", "issued": "2026-01-05T09:30:00+08:00",
        "applies": {"start": "2026-01-05", "end": "2027-01-04"},
        "subject": [ref("Patient/example-resident-wang", "王建国"), ref("Patient/example-resident-li", "李秀英")],
        "authority": [ref("Organization/org-phc-001", "宁和区和平街道社区卫生服务中心")],
        "type": concept("contract-type", "family-doctor", "家庭医生签约服务"),
        "signer": [
            {"type": {"system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes", "code": "PAT"},
             "party": ref("Patient/example-resident-wang", "王建国"),
             "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.7"}],
                            "when": "2026-01-05T09:30:00+08:00", "who": ref("Patient/example-resident-wang")}]},
            {"type": {"system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes", "code": "HPROV"},
             "party": ref("Practitioner/example-doctor-zhao", "赵明"),
             "signature": [{"type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                            "when": "2026-01-05T09:35:00+08:00", "who": ref("Practitioner/example-doctor-zhao")}]},
        ],
        "term": [{
            "topicReference": ref("PlanDefinition/example-package-hypertension", "高血压个性化服务包"),
            "text": "高血压个性化服务包", "offer": {"text": "高血压个性化服务包，每人每年150元，2人共300元"},
            "asset": [{"valuedItem": [
                {"quantity": {"value": 2}, "unitPrice": money(80), "net": money(160),
                 "responsible": ref("Organization/org-mi", "宁和区医疗保障局")},
                {"quantity": {"value": 2}, "unitPrice": money(20), "net": money(40),
                 "responsible": ref("Organization/org-fin", "宁和区财政局")},
                {"quantity": {"value": 2}, "unitPrice": money(50), "net": money(100),
                 "responsible": ref("Patient/example-resident-wang")},
            ]}],
        }],
    }
    referral = {
        "resourceType": "ServiceRequest", "id": "example-referral-up", "meta": meta("jiayi-referral"),
        "extension": [ext("jiayi-referral-direction", "valueCoding", coding("referral-direction", "upward", "上转")),
                      ext("jiayi-green-channel", "valueBoolean", True)],
        "supportingInfo": [ref("Contract/example-contract-wang")],  # R4 basedOn takes no Contract
        "status": "active", "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005",
                                  "display": "Patient referral"}], "text": "转诊"}],
        "priority": "urgent", "code": {"text": "上转：心血管内科门诊"},
        "subject": ref("Patient/example-resident-wang", "王建国"),
        "authoredOn": "2026-06-10T10:20:00+08:00",
        "requester": ref("Practitioner/example-doctor-zhao", "赵明"),
        "performer": [ref("Organization/org-hosp-district-cardio", "宁和区人民医院心血管内科")],
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10",
                                    "display": "原发性高血压"}], "text": "初步印象：原发性高血压，血压控制不满意"}],
        "note": [{"text": "主要现病史（转出原因）：连续两次随访血压控制不满意（158/96 mmHg）。"},
                 {"text": "主要既往史：高血压10年。治疗经过：氨氯地平5mg每日一次，依从性规律。"}],
    }
    task = {
        "resourceType": "Task", "id": "example-referral-task-up", "meta": meta("jiayi-referral-task"),
        "status": "accepted", "intent": "order",
        "focus": ref("ServiceRequest/example-referral-up"), "for": ref("Patient/example-resident-wang"),
        "authoredOn": "2026-06-10T10:20:00+08:00", "lastModified": "2026-06-10T14:02:00+08:00",
        "requester": ref("Practitioner/example-doctor-zhao"),
        "owner": ref("Organization/org-hosp-district-cardio", "宁和区人民医院心血管内科"),
    }
    plan = {
        "resourceType": "CarePlan", "id": "example-plan-wang", "meta": meta("jiayi-health-management-plan"),
        "extension": [ext("jiayi-contract", "valueReference", ref("Contract/example-contract-wang"))],
        "status": "active", "intent": "plan",
        "category": [concept("care-plan-category", "hypertension", "高血压健康管理")],
        "title": "王建国高血压健康管理方案",
        "subject": ref("Patient/example-resident-wang", "王建国"),
        "period": {"start": "2026-01-05", "end": "2027-01-04"},
        "careTeam": [ref("CareTeam/example-team-zhao")],
        "addresses": [ref("Condition/example-condition-htn", "原发性高血压")],
        "activity": [{"detail": {"kind": "Appointment", "code": concept("service-item", "hypertension-follow-up",
                                                                          "高血压患者随访"),
                                 "status": "scheduled",
                                 "scheduledTiming": {"event": [f"2026-{m:02d}-15" for m in (3, 6, 9, 12)]},
                                 "description": "每年至少4次面对面随访"}}],
    }
    follow_up = {
        "resourceType": "Encounter", "id": "example-follow-up-wang", "meta": meta("jiayi-follow-up"),
        "extension": [ext("jiayi-contract", "valueReference", ref("Contract/example-contract-wang")),
                      ext("jiayi-service-item", "valueCodeableConcept",
                          concept("service-item", "hypertension-follow-up", "高血压患者随访"))],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "type": [concept("follow-up-method", "clinic", "门诊")],
        "subject": ref("Patient/example-resident-wang", "王建国"),
        "participant": [{"individual": ref("Practitioner/example-doctor-zhao")}],
        "period": {"start": "2026-03-15T09:00:00+08:00", "end": "2026-03-15T09:20:00+08:00"},
        "serviceProvider": ref("Organization/org-phc-001"),
    }
    service = {
        "resourceType": "Encounter", "id": "example-contract-service-wang", "meta": meta("jiayi-contract-service"),
        "extension": [ext("jiayi-contract", "valueReference", ref("Contract/example-contract-wang")),
                      ext("jiayi-service-item", "valueCodeableConcept",
                          concept("service-item", "blood-pressure-measurement", "血压测量"))],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HH", "display": "home health"},
        "subject": ref("Patient/example-resident-wang", "王建国"),
        "participant": [{"individual": ref("Practitioner/example-doctor-zhao")}],
        "period": {"start": "2026-04-02T15:10:00+08:00", "end": "2026-04-02T15:25:00+08:00"},
        "serviceProvider": ref("Organization/org-phc-001"),
    }
    provenance = {
        "resourceType": "Provenance", "id": "example-two-card-wang", "meta": meta("jiayi-two-card-provenance"),
        "target": [ref("Encounter/example-contract-service-wang")],
        "occurredDateTime": "2026-04-02T15:10:00+08:00", "recorded": "2026-04-02T15:10:05+08:00",
        "location": ref("Location/example-home-wang"),
        "agent": [
            {"extension": [{"url": SD + "jiayi-card", "extension": [
                {"url": "type", "valueCoding": coding("card-type", "resident-id-card", "居民身份证")},
                {"url": "number", "valueString": wang["identifier"][0]["value"]}]}],
             "who": ref("Patient/example-resident-wang")},
            {"extension": [{"url": SD + "jiayi-card", "extension": [
                {"url": "type", "valueCoding": coding("card-type", "doctor-card", "医务人员工作卡")},
                {"url": "number", "valueString": "YS0012000011"}]}],
             "who": ref("Practitioner/example-doctor-zhao")},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                  "code": "assembler"}]},
             "who": ref("Device/example-terminal-01", "两卡制终端 PAD-01")},
        ],
    }
    prescription = {
        "resourceType": "MedicationRequest", "id": "example-ltp-wang", "meta": meta("jiayi-long-term-prescription"),
        "extension": [ext("jiayi-contract", "valueReference", ref("Contract/example-contract-wang"))],
        "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "苯磺酸氨氯地平片 5mg"},
        "subject": ref("Patient/example-resident-wang", "王建国"),
        "authoredOn": "2026-03-15T09:18:00+08:00",
        "requester": ref("Practitioner/example-doctor-zhao"),
        "dosageInstruction": [{"text": "每日1次，每次5mg，口服"}],
        "dispenseRequest": {"quantity": {"value": 56, "unit": "片"},
                            "expectedSupplyDuration": {"value": 56, "unit": "天", "system": "http://unitsofmeasure.org",
                                                       "code": "d"}},
    }
    response = {
        "resourceType": "QuestionnaireResponse", "id": "example-satisfaction-wang",
        "meta": meta("jiayi-satisfaction-response"),
        "questionnaire": "https://jiayi.dev/fhir/Questionnaire/jiayi-satisfaction",
        "status": "completed", "subject": ref("Patient/example-resident-wang"),
        "authored": "2026-07-01T10:00:00+08:00", "author": ref("Practitioner/example-phys-zhou"),
        "item": [
            {"linkId": "overall", "answer": [{"valueCoding": coding("satisfaction", "1", "满意")}]},
            {"linkId": "doctor-attitude", "answer": [{"valueCoding": coding("satisfaction", "1", "满意")}]},
            {"linkId": "follow-up-received", "answer": [{"valueBoolean": True}]},
            {"linkId": "renew", "answer": [{"valueBoolean": True}]},
        ],
    }
    organization = {
        "resourceType": "Organization", "id": "example-phc", "active": True,
        "identifier": [{"use": "official", "system": SID + "uscc", "value": make_uscc("12990102MB0000011")}],
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}],
                  "text": "社区卫生服务中心"}],
        "name": "宁和区和平街道社区卫生服务中心",
    }
    return [wang, li, household, team, package, contract, referral, task, plan, follow_up, service,
            provenance, prescription, response, organization]
