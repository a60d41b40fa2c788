"""A resident's contract from signing to renewal against a real ``jiayi serve`` (SQLite and
PostgreSQL): sign as a household, a two-card visit (sent twice), what a hospital sees
($family-doctor), fulfilment, a change of team ($terminate, then a new contract), and the
renewal for the next term."""

from __future__ import annotations

import pytest
import requests
from contract_data import JSON, World, parameters

pytestmark = pytest.mark.e2e
TIMEOUT = 30


def _post(base, url, body):
    return requests.post(f"{base}/{url}", json=body, headers=JSON, timeout=TIMEOUT)


def _visit(w: World, event_id: str, time: str) -> dict:
    return parameters(eventId=("valueString", event_id), residentCardType=("valueCode", "social-security-card"),
                      residentCardNumber=("valueString", f"S{w.child}"),
                      doctorCardNumber=("valueString", w.doctor_card),
                      time=("valueDateTime", time), item=("valueCode", "health-consultation"))


def test_sign_visit_terminate_resign_and_renew(server, unique):
    w = World(unique).load(lambda url, res: requests.put(f"{server}/{url}", json=res, headers=JSON, timeout=TIMEOUT))
    everyone = [w.head, w.spouse, w.child]
    signed = _post(server, "Contract", w.contract(subjects=everyone, household=True, fees=[200, 160],
                                                  start="2026-01-01", end="2027-12-31"))
    assert signed.status_code == 201, signed.text
    household_contract = signed.json()["id"]

    visit = _visit(w, f"ev-{unique}", "2026-04-02T15:00:00+08:00")
    recorded = _post(server, "Encounter/$record-service", visit)
    assert recorded.status_code == 201, recorded.text
    assert _post(server, "Encounter/$record-service", visit).json()["id"] == recorded.json()["id"]

    seen = requests.get(f"{server}/Patient/{w.child}/$family-doctor", params={"asOf": "2026-04-02"}, timeout=TIMEOUT)
    assert seen.status_code == 200
    names = {p["name"]: p.get("valueReference", {}).get("reference") for p in seen.json()["parameter"]}
    assert names["contract"] == f"Contract/{household_contract}" and names["doctor"] == f"Practitioner/{w.doctor}"

    done = requests.get(f"{server}/Contract/{household_contract}/$fulfilment", params={"asOf": "2026-06-30"},
                        timeout=TIMEOUT).json()
    consult = next(p for p in done["parameter"] if p["name"] == "item"
                   and p["part"][0]["valueCoding"]["code"] == "health-consultation")
    assert [q["valueInteger"] for q in consult["part"][1:]] == [12, 1]  # 4 a year × 3 people; 1 delivered

    # the family moves to the village team: terminate, then sign there from the next day
    ended = _post(server, f"Contract/{household_contract}/$terminate",
                  parameters(reason=("valueCode", "team-change"), date=("valueDate", "2026-06-30"),
                             requestedBy=("valueReference", {"reference": f"Patient/{w.head}"})))
    assert ended.status_code == 200 and ended.json()["status"] == "terminated"
    again = _post(server, "Contract", w.contract(subjects=everyone, household=True, fees=[360], team=w.other_team,
                                                 start="2026-07-01", end="2027-06-30"))
    assert again.status_code == 201, again.text
    refused = _post(server, "Encounter/$record-service", _visit(w, f"ev2-{unique}", "2026-08-01T10:00:00+08:00"))
    assert refused.status_code == 422  # the old team's doctor is not on the new team

    renewed = _post(server, f"Contract/{again.json()['id']}/$renew", parameters())
    assert renewed.status_code == 201 and renewed.json()["applies"] == {"start": "2027-07-01", "end": "2028-06-30"}
    later = requests.get(f"{server}/Patient/{w.spouse}/$family-doctor", params={"asOf": "2027-08-01"},
                         timeout=TIMEOUT).json()
    assert any(p.get("valueReference", {}).get("reference") == f"Contract/{renewed.json()['id']}"
               for p in later["parameter"])
