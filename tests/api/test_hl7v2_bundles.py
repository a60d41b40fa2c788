"""The server accepts what the HL7 v2 adapter makes, on SQLite and PostgreSQL: every supported
sample of ``../shared/hl7v2-samples`` and the synthetic Chinese referral flow (through the
listener's own logic, over the Flask test client); processing a message twice changes nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from adapter_transport import flask_fhir_client
from helpers import shared_path
from hl7v2_messages import adt_a04, adt_a08, oru_r01, ref_i12, rri_i12, unique_id

from adapters.hl7v2 import er7, inbound
from adapters.hl7v2.config import Config
from adapters.hl7v2.service import Listener
from adapters.hl7v2.state import State

FHIR = {"Content-Type": "application/fhir+json"}


def post(client, raw: bytes | str) -> dict:
    """Direct: the converted Bundle posted as it is."""
    msg = er7.parse(raw.encode("utf-8") if isinstance(raw, str) else raw)
    response = client.post("/fhir", json=inbound.convert(msg).bundle(), headers=FHIR)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture()
def listen(client, tmp_path):
    """Through the listener's logic (merge, state-machine steps, ACK): returns the ACK."""
    listener = Listener(flask_fhir_client(client), State(tmp_path / "state.sqlite3"), Config())

    def handle(raw: str) -> er7.Message:
        reply = er7.parse(listener.handle(raw.encode("utf-8")))
        assert reply.first("MSA").get(1) == "AA", [e.get(8) for e in reply.all("ERR")]
        return reply

    yield handle
    listener.state.close()


def search(client, query: str) -> list[dict]:
    body = client.get(f"/fhir/{query}").get_json()
    return [e["resource"] for e in body.get("entry", []) if e.get("search", {}).get("mode") == "match"]


def test_every_supported_shared_sample_is_accepted(client):
    accepted = 0
    for path in sorted(shared_path("hl7v2-samples").glob("*.hl7")):
        msg = er7.parse(path.read_bytes())
        if msg.type not in inbound.CONVERTERS:
            continue
        lenient = path.name == "python-hl7-oru-r01.hl7"  # PID-7 196203520 is not a date: AE unless lenient
        response = client.post("/fhir", json=inbound.convert(msg, lenient=lenient).bundle(), headers=FHIR)
        assert response.status_code == 200, (path.name, response.get_json())
        accepted += 1
    assert accepted == 24


def test_the_same_message_twice_writes_nothing_new(client, unique):
    number = unique_id(unique)
    message = adt_a04(f"A04-{unique}", id_number=number, visit=f"V{unique}")
    post(client, message)
    patient = search(client, f"Patient?identifier={quote('urn:oid:2.16.156.10011.1.3|' + number)}")
    assert len(patient) == 1
    again = post(client, message)
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK", "200 OK", "200 OK"]
    assert len(client.get(f"/fhir/Patient/{patient[0]['id']}/_history").get_json()["entry"]) == 1
    visit = quote("https://jiayi.dev/fhir/sid/hl7v2/NINGHE-CHC|V" + unique)
    assert len(search(client, f"Encounter?identifier={visit}")) == 1
    post(client, adt_a08(f"A08-{unique}", id_number=number, phone="13900009999"))
    updated = client.get(f"/fhir/Patient/{patient[0]['id']}").get_json()
    assert updated["telecom"][0]["value"] == "13900009999" and updated["meta"]["versionId"] == "2"


def test_referral_accept_and_return_on_the_server(client, listen, unique):
    number = unique_id(unique, sex="male")
    referral = f"R{unique}"
    post(client, ref_i12(f"REF-{unique}", referral=referral, id_number=number))
    criteria = quote(f"https://jiayi.dev/fhir/sid/hl7v2/CHCEHR|{referral}")
    (task,) = search(client, f"Task?identifier={criteria}")
    (sr,) = search(client, f"ServiceRequest?identifier={criteria}")
    assert task["status"] == "requested" and task["focus"]["reference"] == f"ServiceRequest/{sr['id']}"
    assert sr["priority"] == "asap" and len(sr["reasonReference"]) == 2
    listen(rri_i12(f"RRI-A-{unique}", referral=referral, id_number=number))
    assert client.get(f"/fhir/Task/{task['id']}").get_json()["status"] == "accepted"
    listen(rri_i12(f"RRI-C-{unique}", referral=referral, id_number=number, status="CM^已完成",
                   return_referral=f"D{unique}", note="病情稳定，转回社区康复管理"))
    done = client.get(f"/fhir/Task/{task['id']}").get_json()
    assert done["status"] == "completed"
    down_ref = done["output"][0]["valueReference"]["reference"]
    down = client.get(f"/fhir/{down_ref}").get_json()
    assert down["basedOn"] == [{"reference": f"ServiceRequest/{sr['id']}"}]
    assert down["extension"][0]["valueCoding"]["code"] == "downward"
    assert client.get(f"/fhir/ServiceRequest/{sr['id']}").get_json()["status"] == "completed"
    (down_task,) = search(client, f"Task?focus={down_ref}")
    assert down_task["status"] == "requested" and down_task["owner"]["display"] == "宁和区社区卫生服务中心"


@pytest.mark.parametrize("status,expected", [("R^Rejected^HL70283", "rejected")])
def test_rejection_keeps_the_reason(client, listen, unique, status, expected):
    number = unique_id(unique)
    listen(ref_i12(f"REF-{unique}", referral=f"R{unique}", id_number=number))
    listen(rri_i12(f"RRI-{unique}", referral=f"R{unique}", status=status, id_number=number,
                         reason="^号源已满，建议改约其他时段"))
    (task,) = search(client, f"Task?identifier={quote(f'https://jiayi.dev/fhir/sid/hl7v2/CHCEHR|R{unique}')}")
    assert task["status"] == expected and task["statusReason"]["text"] == "号源已满，建议改约其他时段"


def test_results_update_on_correction(client, unique):
    number = unique_id(unique)
    post(client, oru_r01(f"ORU-{unique}", id_number=number, order=f"L{unique}"))
    post(client, oru_r01(f"ORU2-{unique}", id_number=number, order=f"L{unique}").replace("|6.2|", "|6.4|")
         .replace("|<5.2|H|||F", "|<5.2|H|||C"))
    (report,) = search(client, f"DiagnosticReport?identifier={quote(f'https://jiayi.dev/fhir/sid/hl7v2/LIS|L{unique}')}")
    assert len(report["result"]) == 5
    cholesterol = client.get(f"/fhir/{report['result'][0]['reference']}").get_json()
    assert cholesterol["valueQuantity"]["value"] == 6.4 and cholesterol["status"] == "corrected"
