"""The listener's answers to faults: a transient server fault (409 database busy, 503, no
connection) is AR and not remembered, so the sender's resend is processed; a final answer
(AA, AE for bad content) is remembered under MSH-10; ACKs never carry internal URLs; the
allow-list of sending facilities; searches by POST _search (no 身份证号 in a URL)."""

from __future__ import annotations

import requests
from adapter_transport import scripted_fhir_client
from hl7v2_messages import adt_a04, adt_a08, resident_id

from adapters.hl7v2 import er7
from adapters.hl7v2.ack import public_text
from adapters.hl7v2.config import Config, SenderRule
from adapters.hl7v2.service import Listener
from adapters.hl7v2.state import State

BASE = "http://10.1.2.3:8080/fhir"
BUSY = (409, {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "conflict", "diagnostics": "The database is busy with a concurrent write"}]})
UNAVAILABLE = (503, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "transient"}]})
OK = (200, {"resourceType": "Bundle", "type": "transaction-response", "entry": []})
EMPTY = (200, {"resourceType": "Bundle", "type": "searchset", "entry": []})


def listener(tmp_path, answers, config: Config | None = None):
    client, transport, _ = scripted_fhir_client(answers, BASE, retries=1)
    return Listener(client, State(tmp_path / "state.sqlite3"), config or Config()), transport


def msa(reply: bytes) -> tuple[str, str]:
    message = er7.parse(reply)
    return message.first("MSA").get(1), message.first("MSA").get(2)


def err_texts(reply: bytes) -> list[str]:
    return [seg.get(8) for seg in er7.parse(reply).all("ERR")]


def test_a_busy_database_is_ar_and_the_resend_is_processed(tmp_path):
    # ADT^A04: a POST _search for the Patient (merge), then the transaction; busy twice = retries spent
    the_listener, transport = listener(tmp_path, [EMPTY, BUSY, BUSY, EMPTY, OK])
    message = adt_a04("T-BUSY").encode()
    assert msa(the_listener.handle(message)) == ("AR", "T-BUSY")
    assert the_listener.state.ack_for(er7.parse(message).sender, "T-BUSY") is None
    assert msa(the_listener.handle(message))[0] == "AA"  # not the remembered AR: processed again
    assert [r.method for r in transport.requests].count("POST") == 5
    assert msa(the_listener.handle(message))[0] == "AA"  # now remembered: nothing sent
    assert len(transport.requests) == 5


def test_an_unavailable_server_is_ar_not_remembered(tmp_path):
    the_listener, _ = listener(tmp_path, [EMPTY, UNAVAILABLE, UNAVAILABLE, EMPTY, OK])
    message = adt_a08("T-503").encode()
    assert msa(the_listener.handle(message))[0] == "AR"
    assert msa(the_listener.handle(message))[0] == "AA"


def test_no_connection_is_ar_without_the_servers_address(tmp_path):
    down = requests.ConnectionError("HTTPConnectionPool(host='10.1.2.3', port=8080): Max retries exceeded "
                                    "with url: http://10.1.2.3:8080/fhir/Patient/_search")
    the_listener, _ = listener(tmp_path, [down, down, EMPTY, OK])
    reply = the_listener.handle(adt_a08("T-DOWN").encode())
    assert msa(reply)[0] == "AR"
    assert not any("10.1.2.3" in text or "http" in text for text in err_texts(reply) + [msa(reply)[1]])
    assert b"10.1.2.3" not in reply


def test_bad_content_ae_is_remembered(tmp_path):
    refused = (422, {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "diagnostics": f"see {BASE}/Patient/1: birthDate in the future",
         "expression": ["Bundle.entry[0].resource"]}]})
    the_listener, transport = listener(tmp_path, [EMPTY, refused])
    message = adt_a08("T-AE").encode()
    first = the_listener.handle(message)
    assert msa(first)[0] == "AE"
    assert all(BASE not in text for text in err_texts(first)) and "[server]" in err_texts(first)[0]
    assert the_listener.handle(message) == first and len(transport.requests) == 2


def test_patients_are_looked_up_by_post_search(tmp_path):
    number = resident_id(11)
    the_listener, transport = listener(tmp_path, [EMPTY, OK])
    assert msa(the_listener.handle(adt_a08("T-POST", id_number=number).encode()))[0] == "AA"
    search = transport.requests[0]
    assert search.method == "POST" and search.url == f"{BASE}/Patient/_search"
    assert all(number not in r.url for r in transport.requests)
    assert number in search.body


def test_only_allowed_sending_facilities_are_processed(tmp_path):
    config = Config(allowed_senders=[SenderRule(facility="CITYHOSP"), SenderRule("NINGHE-CHC", "LIS")])
    the_listener, transport = listener(tmp_path, [], config)
    reply = the_listener.handle(adt_a04("T-DENY").encode())  # CHCEHR^NINGHE-CHC: application not allowed
    assert msa(reply)[0] == "AR" and not transport.requests
    assert b"ERR||MSH^1^4|" in reply
    assert the_listener.state.ack_for(er7.parse(adt_a04("T-DENY").encode()).sender, "T-DENY") is None
    config.allowed_senders.append(SenderRule.parse("CHCEHR^NINGHE-CHC"))
    transport.answers += [EMPTY, OK]
    assert msa(the_listener.handle(adt_a04("T-DENY").encode()))[0] == "AA"


def test_without_an_allow_list_everyone_is_accepted():
    assert Config().accepts("ANY", "WHERE")
    assert not Config(allowed_senders=[]).accepts("ANY", "WHERE")


def test_public_text_trims_urls_and_host_port():
    assert public_text("cannot reach http://10.0.0.5:8080/fhir/Patient?x=1 now") == "cannot reach [server] now"
    assert "10.0.0.5" not in public_text("HTTPConnectionPool(host='10.0.0.5', port=8080): refused")


def test_an_error_told_in_msa_3_and_err_is_recorded_once():
    from adapters.hl7v2.message_audit import ack_outcome

    reply = (b"MSH|^~\\&|JIAYI|JIAYI|LIS|LAB|20250320100000+0800||ACK^R01^ACK|A1|P|2.5.1\r"
             b"MSA|AE|LIS-1|OBX-5: not a number\rERR|||102^Data type error^HL70357|E||||OBX-5: not a number\r"
             b"ERR|||102^Data type error^HL70357|E||||OBX-6: unknown unit\r")
    assert ack_outcome(reply) == ("AE", "OBX-5: not a number; OBX-6: unknown unit")
