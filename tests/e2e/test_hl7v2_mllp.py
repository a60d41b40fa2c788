"""``jiayi hl7 listen`` over a real MLLP socket against a real ``jiayi serve`` (SQLite and
PostgreSQL): ACK AA/AE/AR with ERR, duplicates, nothing written on failure, framing errors,
oversize messages, concurrent connections, the ACK store surviving a restart, and the
two-way referral with fake hospital endpoints (REF^I12 in → Task → accepted over REST →
RRI^I12 out → the downward return RRI^I12 in → REF^I12 of the return referral out)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import shared_path
from hl7v2_messages import (
    CHC_USCC,
    CITY_USCC,
    USCC_SID,
    adt_a04,
    adt_a08,
    adt_a40,
    ref_i12,
    rri_i12,
    unique_id,
)

from adapters.hl7v2 import er7, mllp
from e2e.hl7v2_support import TIMEOUT, FakeHospital, running_listener, send, send_raw, wait_for

pytestmark = pytest.mark.e2e
ID_CARD = "urn:oid:2.16.156.10011.1.3"
MAX_BYTES = 65536


@pytest.fixture(scope="module")
def hospitals():
    chc, city = FakeHospital(), FakeHospital()
    yield chc, city
    chc.close()
    city.close()


@pytest.fixture(scope="module")
def listener(server, hospitals, tmp_path_factory):
    chc, city = hospitals
    config = {"application": "JIAYI", "facility": "JIAYI-PLATFORM", "retry": {"first": 0.2, "max": 1},
              "endpoints": [
                  {"name": "chc-ehr", "host": "127.0.0.1", "port": chc.port, "application": "CHCEHR",
                   "facility": "NINGHE-CHC", "organizations": [{"system": USCC_SID, "value": CHC_USCC}]},
                  {"name": "city-his", "host": "127.0.0.1", "port": city.port, "application": "CITYHIS",
                   "facility": "CITYHOSP", "organizations": [{"system": USCC_SID, "value": CITY_USCC}]}]}
    workdir = tmp_path_factory.mktemp("hl7")
    with running_listener(server, workdir, config=config, max_bytes=MAX_BYTES) as port:
        yield port


def patients(server: str, number: str) -> list[dict]:
    body = requests.get(f"{server}/Patient", params={"identifier": f"{ID_CARD}|{number}"}, timeout=TIMEOUT).json()
    return [e["resource"] for e in body.get("entry", [])]


def err_fields(ack: er7.Message) -> list[tuple[str, str, str, str]]:
    """(ERR-2 segment^field, ERR-3 code, ERR-4 severity, ERR-8 text) per ERR."""
    return [(f"{e.get(2, 1)}-{e.get(2, 3)}", e.get(3, 1), e.get(4), e.get(8)) for e in ack.all("ERR")]


def test_adt_is_acknowledged_and_written(server, listener, unique):
    number = unique_id(unique)
    reply = send(listener, adt_a04(f"A04-{unique}", id_number=number, visit=f"V{unique}"))
    assert reply.type == "ACK^A04" and reply.first("MSA").get(1) == "AA"
    assert reply.first("MSA").get(2) == f"A04-{unique}"
    assert reply.sending_facility == "JIAYI" and reply.receiving_facility == "NINGHE-CHC"
    (patient,) = patients(server, number)
    assert patient["name"][0]["text"] == "王秀英"


def test_same_control_id_is_processed_once_and_answered_with_the_original_ack(server, listener, unique):
    number = unique_id(unique)
    first = send_raw(listener, adt_a04(f"DUP-{unique}", id_number=number, visit=f"V{unique}"))
    again = send_raw(listener, adt_a04(f"DUP-{unique}", id_number=number, visit=f"V{unique}", name="李^四"))
    assert again == first
    (patient,) = patients(server, number)
    assert patient["name"][0]["text"] == "王秀英" and patient["meta"]["versionId"] == "1"
    other_sender = adt_a04(f"DUP-{unique}", id_number=number, visit=f"V{unique}", name="李^四").replace(
        "CHCEHR|NINGHE-CHC", "OTHER|ELSEWHERE")
    assert send(listener, other_sender).first("MSA").get(1) == "AA"
    assert patients(server, number)[0]["name"][0]["text"] == "李四"


def test_unsupported_message_type_is_refused_with_a_reason(listener):
    sample = shared_path("hl7v2-samples", "fhir-converter-siu-s12-01.hl7").read_bytes()
    reply = send(listener, sample)
    assert reply.first("MSA").get(1) == "AR" and reply.first("MSA").get(2) == "MSG00012"
    (err,) = err_fields(reply)
    assert err[:3] == ("MSH-9", "200", "E") and "SIU^S12 is not supported" in err[3]


def test_bad_content_is_an_application_error_naming_the_field(server, listener, unique):
    number = unique_id(unique)
    broken = number[:17] + ("1" if number[17] != "1" else "2")
    reply = send(listener, adt_a04(f"BAD-{unique}", id_number=broken))
    assert reply.first("MSA").get(1) == "AE"
    (err,) = err_fields(reply)
    assert err[:3] == ("PID-3", "102", "E") and "check character" in err[3]
    assert patients(server, broken) == [] and patients(server, number) == []


def test_a_message_that_fails_on_the_server_writes_nothing(server, listener, unique):
    number = unique_id(unique)
    reply = send(listener, rri_i12(f"RRI-X-{unique}", referral=f"NOPE{unique}", id_number=number))
    assert reply.first("MSA").get(1) == "AE"
    (err,) = err_fields(reply)
    assert err[:3] == ("RF1-6", "204", "E") and "No Task matches" in err[3]
    assert patients(server, number) == []  # the Patient of the same transaction was not written


def test_gb18030_message_gets_a_gb18030_ack(server, listener, unique):
    number = unique_id(unique)
    raw = adt_a04(f"GB-{unique}", id_number=number, charset="GB 18030-2000", name="欧阳^娜").encode("gb18030")
    ack_bytes = send_raw(listener, raw)
    assert b"GB 18030-2000" in ack_bytes
    assert er7.parse(ack_bytes).first("MSA").get(1) == "AA"
    assert patients(server, number)[0]["name"][0]["text"] == "欧阳娜"


def test_framing_errors_close_the_connection_not_the_listener(listener, unique):
    with socket.create_connection(("127.0.0.1", listener), timeout=TIMEOUT) as sock:
        sock.sendall(b"MSH|^~\\&|no framing at all\r")
        assert sock.recv(100) == b""  # closed
    with socket.create_connection(("127.0.0.1", listener), timeout=TIMEOUT) as sock:
        sock.sendall(mllp.SB + b"MSH|^~\\&|A|B" + mllp.SB + b"again")
        assert sock.recv(100) == b""
    assert send(listener, adt_a04(f"AFTER-{unique}", id_number=unique_id(unique))).first("MSA").get(1) == "AA"


def test_oversize_message_is_refused_and_the_listener_goes_on(listener, unique):
    huge = adt_a04(f"BIG-{unique}", id_number=unique_id(unique)) + "NTE|1||" + "x" * (MAX_BYTES + 10) + "\r"
    with socket.create_connection(("127.0.0.1", listener), timeout=TIMEOUT) as sock:
        sock.sendall(mllp.frame(huge.encode()))
        reader = mllp.FrameReader(sock)
        reply = er7.parse(reader.next())
        assert reply.first("MSA").get(1) == "AR" and reply.first("MSA").get(2) == f"BIG-{unique}"
        assert err_fields(reply)[0][1] == "104"
        assert reader.next() is None  # then closed
    assert send(listener, adt_a04(f"SMALL-{unique}", id_number=unique_id(unique))).first("MSA").get(1) == "AA"


def test_several_connections_at_once(server, listener, unique):
    def one_connection(k: int) -> list[str]:
        codes = []
        with mllp.MLLPClient("127.0.0.1", listener, timeout=TIMEOUT) as client:
            for n in range(4):
                tag = f"{unique[:8]}{k:02d}{n:02d}"
                message = adt_a04(f"CONC-{tag}", id_number=unique_id(tag + unique[:4]), visit=f"V{tag}")
                codes.append(er7.parse(client.send(message.encode())).first("MSA").get(1))
        return codes

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one_connection, range(6)))
    assert results == [["AA"] * 4] * 6


def test_acks_survive_a_listener_restart(server, tmp_path, unique):
    state = tmp_path / "state.sqlite3"
    message = adt_a04(f"RESTART-{unique}", id_number=unique_id(unique), visit=f"V{unique}")
    with running_listener(server, tmp_path, state=state) as port:
        first = send_raw(port, message)
    with running_listener(server, tmp_path, state=state) as port:
        assert send_raw(port, message) == first


def _task(server: str, referral: str) -> dict:
    body = requests.get(f"{server}/Task", params={"identifier": f"https://jiayi.dev/fhir/sid/hl7v2/CHCEHR|{referral}"},
                        timeout=TIMEOUT).json()
    (entry,) = body["entry"]
    return entry["resource"]


def test_two_way_referral(server, listener, hospitals, unique):
    chc, city = hospitals
    number, referral = unique_id(unique, sex="male"), f"R{unique}"
    # 1. the community health centre's EHR refers the resident upward
    reply = send(listener, ref_i12(f"REF-{unique}", referral=referral, id_number=number))
    assert reply.first("MSA").get(1) == "AA", err_fields(reply)
    task = _task(server, referral)
    assert task["status"] == "requested"
    # 2. Jiayi forwards it to the hospital, which is an HL7 v2 endpoint, as REF^I12
    forwarded = wait_for(lambda: city.messages("REF^I12", lambda m: m.first("PID").get(3) == number),
                         what="REF^I12 at the hospital")
    assert forwarded[0].first("RF1").get(6) == referral and forwarded[0].first("RF1").get(3) == "upward"
    assert forwarded[0].receiving_facility == "CITYHOSP"
    # 3. the hospital accepts it in Jiayi (REST) → RRI^I12 to the referring EHR
    task["status"] = "accepted"
    assert requests.put(f"{server}/Task/{task['id']}", json=task, timeout=TIMEOUT,
                        headers={"Content-Type": "application/fhir+json"}).status_code == 200
    accepted = wait_for(lambda: chc.messages("RRI^I12", lambda m: m.first("RF1").get(6) == referral),
                        what="RRI^I12 (accepted) at the community EHR")
    assert accepted[0].first("RF1").get(1) == "A" and accepted[0].first("RF1").get(6, 2) == "CHCEHR"
    # 4. after treatment the hospital's HIS sends the downward return referral
    reply = send(listener, rri_i12(f"RRI-{unique}", referral=referral, id_number=number, status="CM^已完成",
                                   return_referral=f"D{unique}", note="病情稳定，转回社区康复管理"))
    assert reply.first("MSA").get(1) == "AA", err_fields(reply)
    task = requests.get(f"{server}/Task/{task['id']}", timeout=TIMEOUT).json()
    assert task["status"] == "completed"
    down = requests.get(f"{server}/{task['output'][0]['valueReference']['reference']}", timeout=TIMEOUT).json()
    assert down["extension"][0]["valueCoding"]["code"] == "downward"
    assert down["basedOn"][0]["reference"] == task["focus"]["reference"]
    # 5. the community EHR hears of the completion and receives the return referral as REF^I12
    done = wait_for(lambda: chc.messages("RRI^I12", lambda m: m.first("RF1").get(6) == referral and
                                         m.first("RF1").get(1) == "CM"), what="RRI^I12 (completed)")
    assert done[0].first("RF1").get(11) == f"D{unique}"
    back = wait_for(lambda: chc.messages("REF^I12", lambda m: m.first("RF1").get(6) == f"D{unique}"),
                    what="REF^I12 of the return referral")
    assert back[0].first("RF1").get(3) == "downward"
    # the hospital, which sent the completion, is not told again
    assert not city.messages("RRI^I12", lambda m: m.first("RF1").get(6) == referral)


def _city_hospital(server: str) -> str:
    """The city hospital's Organization (the ``city-his`` endpoint serves it by its USCC): the one
    an inbound REF^I12 made, or made here, so that the test does not depend on another."""
    response = requests.post(f"{server}/Organization", timeout=TIMEOUT, json={
        "resourceType": "Organization", "identifier": [{"system": USCC_SID, "value": CITY_USCC}],
        "name": "示范市第一人民医院"}, headers={"Content-Type": "application/fhir+json",
                                             "If-None-Exist": f"identifier={USCC_SID}|{CITY_USCC}"})
    assert response.status_code in (200, 201), response.text
    return response.json()["id"]


def test_referral_made_in_jiayi_goes_out_as_ref_i12(server, listener, hospitals, unique):
    _, city = hospitals
    owner = _city_hospital(server)
    number = unique_id(unique)
    patient = requests.post(f"{server}/Patient", timeout=TIMEOUT, json={
        "resourceType": "Patient", "identifier": [{"system": ID_CARD, "value": number}],
        "name": [{"text": "赵敏", "family": "赵", "given": ["敏"]}], "gender": "female", "birthDate": "1960-05-06"},
        headers={"Content-Type": "application/fhir+json"}).json()
    sr = requests.post(f"{server}/ServiceRequest", timeout=TIMEOUT, headers={"Content-Type": "application/fhir+json"},
                       json={"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                             "extension": [{"url": "https://jiayi.dev/fhir/StructureDefinition/jiayi-referral-direction",
                                            "valueCoding": {"system": "https://jiayi.dev/fhir/CodeSystem/referral-direction",
                                                            "code": "upward", "display": "上转"}}],
                             "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
                             "subject": {"reference": f"Patient/{patient['id']}"},
                             "performer": [{"reference": f"Organization/{owner}"}], "priority": "urgent",
                             "note": [{"text": f"转诊 {unique}"}]}).json()
    requests.post(f"{server}/Task", timeout=TIMEOUT, headers={"Content-Type": "application/fhir+json"},
                  json={"resourceType": "Task", "status": "requested", "intent": "order",
                        "focus": {"reference": f"ServiceRequest/{sr['id']}"},
                        "owner": {"reference": f"Organization/{owner}"}})
    got = wait_for(lambda: city.messages("REF^I12", lambda m: m.first("RF1").get(6) == sr["id"]),
                   what="REF^I12 of a referral made in Jiayi")
    assert got[0].first("RF1").get(6, 2) == "JIAYI" and got[0].first("PID").get(3) == number
    assert got[0].first("PID").get(5, 1) == "赵" and got[0].first("NTE").get(3) == f"转诊 {unique}"
    # the hospital answers about it by Jiayi's id (RF1-6 = <id>^JIAYI)
    reply = send(listener, rri_i12(f"RRI-J-{unique}", referral=sr["id"], referral_namespace="JIAYI",
                                   status="R^Rejected^HL70283", reason="^不符合转诊指征", id_number=number))
    assert reply.first("MSA").get(1) == "AA", err_fields(reply)
    body = requests.get(f"{server}/Task", params={"focus": f"ServiceRequest/{sr['id']}"}, timeout=TIMEOUT).json()
    task = body["entry"][0]["resource"]
    assert task["status"] == "rejected" and task["statusReason"]["text"] == "不符合转诊指征"
    assert requests.get(f"{server}/ServiceRequest/{sr['id']}", timeout=TIMEOUT).json()["status"] == "revoked"


def test_adt_update_keeps_what_jiayi_holds_and_a40_merges(server, listener, unique):
    number = unique_id(unique)
    key_population = {"url": "https://jiayi.dev/fhir/StructureDefinition/jiayi-key-population",
                      "valueCodeableConcept": {"coding": [{"system": "https://jiayi.dev/fhir/CodeSystem/key-population",
                                                           "code": "elderly-65"}]}}
    created = requests.post(f"{server}/Patient", timeout=TIMEOUT, headers={"Content-Type": "application/fhir+json"},
                            json={"resourceType": "Patient", "extension": [key_population],
                                  "identifier": [{"system": ID_CARD, "value": number},
                                                 {"system": "https://jiayi.dev/fhir/sid/e-health-card",
                                                  "value": unique}],
                                  "name": [{"text": "王秀英", "family": "王", "given": ["秀英"]}]}).json()
    assert send(listener, adt_a08(f"A08-{unique}", id_number=number, phone="13900007777")).first("MSA").get(1) == "AA"
    patient = requests.get(f"{server}/Patient/{created['id']}", timeout=TIMEOUT).json()
    assert patient["telecom"][0]["value"] == "13900007777" and patient["gender"] == "female"
    assert key_population in patient["extension"]
    assert {"system": "https://jiayi.dev/fhir/sid/e-health-card", "value": unique} in patient["identifier"]
    # A40: this record (by its 身份证号) is merged into another one
    survivor = unique_id(unique[::-1])
    reply = send(listener, adt_a40(f"A40-{unique}", survivor=survivor, old_record=unique).replace(
        f"{unique}^^^&2.16.156.10011.1.2&ISO^EHR", f"{number}^^^&2.16.156.10011.1.3&ISO^NNCHN"))
    assert reply.first("MSA").get(1) == "AA", err_fields(reply)
    old = requests.get(f"{server}/Patient/{created['id']}", timeout=TIMEOUT).json()
    (new,) = patients(server, survivor)
    assert old["active"] is False and key_population in old["extension"]
    assert old["link"] == [{"other": {"reference": f"Patient/{new['id']}"}, "type": "replaced-by"}]
    assert new["link"] == [{"other": {"reference": f"Patient/{created['id']}"}, "type": "replaces"}]
