"""One resident's year with the family-doctor service, against a real ``jiayi serve`` on SQLite and
PostgreSQL (issue 6, SPEC §4): signing, a two-card home visit, an upward referral to a "1+1+1"
hospital (green channel) with a reserved slot booked through it, the hospital's progress on the
referral Task, the downward return, the renewal, and the assessment measures reflecting all of it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from contract_data import JSON, World, parameters

from fhir_server.core import jiayi_names as n

pytestmark = pytest.mark.e2e
TIMEOUT = 60
SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
REFERRAL = [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}]


def _put(base: str, resource: dict) -> requests.Response:
    return requests.put(f"{base}/{resource['resourceType']}/{resource['id']}", json=resource, headers=JSON,
                        timeout=TIMEOUT)


def _post(base: str, url: str, body: dict) -> requests.Response:
    return requests.post(f"{base}/{url}", json=body, headers=JSON, timeout=TIMEOUT)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hospital(u: str, doctor: str, now: datetime) -> list[dict]:
    """A city hospital with a cardiology department, a specialist's schedule and one slot reserved
    for family doctors (open to them since yesterday, starting in three days)."""
    slot_start = now.replace(microsecond=0) + timedelta(days=3)
    return [
        {"resourceType": "Organization", "id": f"hosp-{u}", "name": "示范市第一人民医院",
         "extension": [{"url": SD + "jiayi-public-booking-lead-days", "valueInteger": 1}]},
        {"resourceType": "Organization", "id": f"cardio-{u}", "name": "心血管内科",
         "partOf": {"reference": f"Organization/hosp-{u}"}},
        {"resourceType": "Practitioner", "id": f"spec-{u}", "name": [{"text": "赵主任"}]},
        {"resourceType": "PractitionerRole", "id": f"spec-role-{u}",
         "practitioner": {"reference": f"Practitioner/spec-{u}"},
         "organization": {"reference": f"Organization/cardio-{u}"}},
        {"resourceType": "PractitionerRole", "id": f"fd-role-{u}",
         "practitioner": {"reference": f"Practitioner/{doctor}"},
         "code": [{"coding": [{"system": n.TEAM_ROLE, "code": "family-doctor"}]}]},
        {"resourceType": "Schedule", "id": f"sch-{u}", "active": True,
         "actor": [{"reference": f"PractitionerRole/spec-role-{u}"}], "serviceType": [{"text": "心血管内科专家门诊"}]},
        {"resourceType": "Slot", "id": f"slot-{u}", "schedule": {"reference": f"Schedule/sch-{u}"}, "status": "free",
         "extension": [{"url": SD + "jiayi-reserved-for-family-doctors", "valueBoolean": True},
                       {"url": SD + "jiayi-family-doctor-open-time",
                        "valueDateTime": _instant(now - timedelta(days=1))}],
         "start": _instant(slot_start), "end": _instant(slot_start + timedelta(minutes=30))},
    ]


def _referral(sid: str, direction: str, patient: str, requester: str, performer: str, based_on: str) -> dict:
    return {"resourceType": "ServiceRequest", "id": sid, "status": "active", "intent": "order", "priority": "routine",
            "extension": [{"url": SD + "jiayi-referral-direction",
                           "valueCoding": {"system": CS + "referral-direction", "code": direction}}],
            "category": REFERRAL, "subject": {"reference": f"Patient/{patient}"},
            "authoredOn": date.today().isoformat(), "requester": {"reference": requester},
            "performer": [{"reference": performer}], "basedOn": [{"reference": based_on}],
            "reasonCode": [{"text": "血压控制不满意"}]}


def _advance(base: str, task_id: str, status: str) -> dict:
    task = requests.get(f"{base}/Task/{task_id}", timeout=TIMEOUT).json()
    task["status"] = status
    response = _put(base, task)
    assert response.status_code == 200, response.text
    return response.json()


def _individual(base: str, measure: str, patient: str, start: date, end: date) -> tuple[dict, float | None]:
    response = requests.get(f"{base}/Measure/{measure}/$evaluate-measure", timeout=TIMEOUT, params={
        "periodStart": start.isoformat(), "periodEnd": end.isoformat(), "reportType": "individual",
        "subject": f"Patient/{patient}"})
    assert response.status_code == 200, response.text
    group = response.json()["group"][0]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
    return counts, group.get("measureScore", {}).get("value")


def test_a_resident_from_signing_to_renewal_with_the_measures(server, unique):
    u, now, today = unique, datetime.now(UTC), date.today()
    w = World(u).load(lambda url, res: requests.put(f"{server}/{url}", json=res, headers=JSON, timeout=TIMEOUT))
    for resource in _hospital(u, w.doctor, now):
        assert _put(server, resource).status_code in (200, 201), resource["id"]
    start = today - timedelta(days=300)
    end = start.replace(year=start.year + 1) - timedelta(days=1)

    # 1. signing: one year, the city hospital as the resident's "1+1+1" hospital
    contract = w.contract(subjects=[w.head], start=start.isoformat(), end=end.isoformat())
    contract["extension"][1]["extension"] = [{"url": "level", "valueCode": "city"},
                                             {"url": "organization",
                                              "valueReference": {"reference": f"Organization/hosp-{u}"}}]
    signed = _post(server, "Contract", contract)
    assert signed.status_code == 201, signed.text
    contract_id = signed.json()["id"]
    second = _post(server, "Contract", w.contract(subjects=[w.head], start=start.isoformat(), end=end.isoformat()))
    assert second.status_code == 409  # one contract in force per resident

    # 2. a two-card home visit: resident's ID card and the doctor's card, recorded once
    visit = parameters(eventId=("valueString", f"ev-{u}"), residentCardType=("valueCode", "resident-id-card"),
                       residentCardNumber=("valueString", w.card(w.head)),
                       doctorCardNumber=("valueString", w.doctor_card),
                       time=("valueDateTime", f"{today.isoformat()}T09:30:00+08:00"),
                       item=("valueCode", "health-consultation"), terminal=("valueString", "HV-TERM-01"))
    recorded = _post(server, "Encounter/$record-service", visit)
    assert recorded.status_code == 201, recorded.text
    assert _post(server, "Encounter/$record-service", visit).status_code == 200  # same event id: same record

    # 3. upward referral by the family doctor to the combination hospital: green channel, priority
    up = _referral(f"up-{u}", "upward", w.head, f"PractitionerRole/fd-role-{u}", f"Organization/cardio-{u}",
                   f"Contract/{contract_id}")
    stored = _put(server, up)
    assert stored.status_code == 201, stored.text
    assert stored.json()["priority"] == "urgent"
    assert {"url": SD + "jiayi-green-channel", "valueBoolean": True} in stored.json()["extension"]
    task = {"resourceType": "Task", "id": f"task-{u}", "status": "requested", "intent": "order",
            "focus": {"reference": f"ServiceRequest/up-{u}"}, "for": {"reference": f"Patient/{w.head}"},
            "authoredOn": _instant(now), "owner": {"reference": f"Organization/cardio-{u}"}}
    assert _put(server, task).status_code == 201

    # 4. the reserved specialist slot, booked through the referral
    booked = _post(server, f"ServiceRequest/up-{u}/$book", {"resourceType": "Parameters"})
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment["slot"] == [{"reference": f"Slot/slot-{u}"}]
    assert requests.get(f"{server}/Slot/slot-{u}", timeout=TIMEOUT).json()["status"] == "busy"
    outputs = requests.get(f"{server}/Task/task-{u}", timeout=TIMEOUT).json().get("output", [])
    assert any(o.get("valueReference", {}).get("reference") == f"Appointment/{appointment['id']}" for o in outputs)

    # 5. the hospital works the referral; a jump back is refused
    for status in ("received", "accepted", "in-progress"):
        _advance(server, f"task-{u}", status)
    back = requests.get(f"{server}/Task/task-{u}", timeout=TIMEOUT).json()
    back["status"] = "requested"
    assert _put(server, back).status_code == 409
    _advance(server, f"task-{u}", "completed")

    # 6. the downward return to the community, answering the upward referral
    down = _referral(f"down-{u}", "downward", w.head, f"PractitionerRole/spec-role-{u}", f"Organization/{w.org}",
                     f"ServiceRequest/up-{u}")
    assert _put(server, down).status_code == 201
    outputs = requests.get(f"{server}/Task/task-{u}", timeout=TIMEOUT).json().get("output", [])
    assert any(o.get("valueReference", {}).get("reference") == f"ServiceRequest/down-{u}" for o in outputs)

    # 7. renewal for the next term
    renewed = _post(server, f"Contract/{contract_id}/$renew", parameters(years=("valueInteger", 1)))
    assert renewed.status_code == 201, renewed.text
    successor = renewed.json()
    assert {"url": n.RENEWS, "valueReference": {"reference": f"Contract/{contract_id}"}} in successor["extension"]

    # 8. the measures see it all (individual reports for this resident)
    assert _individual(server, "jiayi-coverage", w.head, start, today) == (
        {"initial-population": 1, "denominator": 1, "numerator": 1}, 1.0)
    assert _individual(server, "jiayi-follow-up-rate", w.head, start, today)[1] == 1.0
    assert _individual(server, "jiayi-upward-referrals", w.head, start, today)[0] == {"initial-population": 1}
    assert _individual(server, "jiayi-downward-referrals", w.head, start, today)[0] == {"initial-population": 1}
    assert _individual(server, "jiayi-return-rate", w.head, start, today)[1] == 1.0
    assert _individual(server, "jiayi-renewal-rate", w.head, today, end)[1] == 1.0
    assert _individual(server, "jiayi-coverage", w.spouse, start, today)[0]["numerator"] == 0  # not signed
