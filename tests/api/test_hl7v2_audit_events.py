"""Each inbound HL7 v2 message's outcome is an AuditEvent on the server (issue 22), written by the
listener through the FHIR API as any client would: outcome 0 for AA, 4 for AE; the message type as
subtype, MSH-10 as the entity's identifier, the resources written; found by ``type``/``subtype``."""

from __future__ import annotations

from adapter_transport import flask_fhir_client
from hl7v2_messages import adt_a04

from adapters.hl7v2 import er7
from adapters.hl7v2.config import Config
from adapters.hl7v2.message_audit import CONTROL_ID, MESSAGE_CODE, Recorder
from adapters.hl7v2.service import Listener
from adapters.hl7v2.state import State
from fhir_server.console.views import monitor

DCM = "http://dicom.nema.org/resources/ontology/DCM"


def events(client, control: str) -> list[dict]:
    body = client.get(f"/fhir/AuditEvent?type={DCM}|110107&subtype={MESSAGE_CODE}|ADT"
                      f"&entity-type=2&_sort=-date&_count=100").get_json()
    found = [e["resource"] for e in body.get("entry", [])]
    return [e for e in found if any((x.get("what") or {}).get("identifier", {}).get("value") == control
                                    for x in e.get("entity", []))]


def test_aa_and_ae_messages_are_recorded_with_their_outcome(client, tmp_path, unique):
    server = flask_fhir_client(client)
    recorder = Recorder(server)
    listener = Listener(server, State(tmp_path / "state.sqlite3"), Config(), recorder=recorder)
    try:
        good = listener.handle(adt_a04(f"A-{unique}").encode())
        bad = listener.handle(adt_a04(f"E-{unique}").replace("|19481102|", "|1948-13-45|").encode())
        again = listener.handle(adt_a04(f"A-{unique}").encode())  # a duplicate: the original ACK, no new event
        recorder.flush()
    finally:
        listener.state.close()
    assert er7.parse(good).first("MSA").get(1) == "AA" and er7.parse(bad).first("MSA").get(1) == "AE"
    assert again == good

    [accepted] = events(client, f"A-{unique}")
    assert accepted["outcome"] == "0"
    assert [c["display"] for c in accepted["subtype"]][0] == "ADT^A04"
    message, *written = accepted["entity"]
    assert message["what"]["identifier"] == {"system": CONTROL_ID, "value": f"A-{unique}",
                                             "assigner": {"display": "CHCEHR|NINGHE-CHC"}}
    assert any(w["what"]["reference"].startswith("Patient/") for w in written)
    assert any(w["what"]["reference"].startswith("Encounter/") for w in written)
    patient = next(w["what"]["reference"] for w in written if w["what"]["reference"].startswith("Patient/"))
    assert client.get(f"/fhir/{patient}").status_code == 200

    console = client.get(f"/fhir/{monitor.HL7_SEARCH}").get_json()  # the monitor's search finds it
    rows = [monitor.hl7_row(e["resource"]) for e in console.get("entry", [])]
    assert any(r["control_id"] == f"A-{unique}" and r["ack"] == "AA" for r in rows)
    assert any(r["control_id"] == f"E-{unique}" and r["ack"] == "AE" for r in rows)

    [refused] = events(client, f"E-{unique}")
    assert refused["outcome"] == "4" and len(refused["entity"]) == 1
    assert refused["outcomeDesc"]  # the ACK's ERR texts


def test_a_refused_audit_event_does_not_change_the_ack(client, tmp_path, unique):
    class Broken:
        def create(self, resource):
            raise RuntimeError("the server said no")

    listener = Listener(flask_fhir_client(client), State(tmp_path / "state.sqlite3"), Config(),
                        recorder=Recorder(Broken(), background=False))  # type: ignore[arg-type]
    try:
        assert er7.parse(listener.handle(adt_a04(f"B-{unique}").encode())).first("MSA").get(1) == "AA"
    finally:
        listener.state.close()


def test_the_monitor_page_shows_the_messages(app):
    from flask import g, render_template

    from fhir_server.console import i18n

    rows = [{"when": "2026-12-01 09:30:00", "inbound": True, "type": "ADT^A04", "peer": "CHCEHR|NINGHE-CHC",
             "control_id": "CHC-1", "ack": "AA", "ok": True, "detail": "",
             "written": [{"reference": "Patient/p1", "patient": "p1"}, {"reference": "Encounter/e1", "patient": None}]},
            {"when": "2026-12-01 09:31:00", "inbound": False, "type": "REF^I12", "peer": "CITYHIS|CITYHOSP",
             "control_id": "J-2", "ack": "AE", "ok": False, "detail": "PRD-3 missing", "written": []}]
    with app.test_request_context("/console/monitor"):
        g.lang, g.t, g.user = "zh", i18n.words("zh"), None
        html = render_template("console/monitor.html", model=monitor.Monitor(hl7=rows))
    assert "CHC-1" in html and "/console/residents/p1" in html and "Encounter/e1" in html
    assert "→ REF^I12" in html and 'class="tag ack-error">AE' in html and "PRD-3 missing" in html


class _Api:
    """The monitor's view of the server: its searches through the test client."""

    def __init__(self, client) -> None:
        self.client = client

    def search(self, url: str) -> list[dict]:
        return [e["resource"] for e in self.client.get(f"/fhir/{url}").get_json().get("entry", [])]


def test_the_monitor_shows_the_outbound_queue_pending_and_refused(client, tmp_path, unique):
    from e2e.hl7v2_support import FakeHospital, free_port

    from adapters.hl7v2.config import Endpoint
    from adapters.hl7v2.sender import Sender

    hospital = FakeHospital()
    hospital.reply_code = "AE"
    config = Config(endpoints=[Endpoint("down", "127.0.0.1", free_port()),
                               Endpoint("city", "127.0.0.1", hospital.port)])
    sender = Sender(flask_fhir_client(client), State(tmp_path / "out.sqlite3"), config, send_timeout=5,
                    recorder=Recorder(flask_fhir_client(client), background=False))
    try:
        sender.state.enqueue("down", "REF^I12", "Task/q1", f"P-{unique}", adt_a04(f"P-{unique}").encode())
        sender.state.enqueue("city", "RRI^I12", "Task/q2", f"R-{unique}", adt_a04(f"R-{unique}").encode())
        sender.deliver()
    finally:
        hospital.close()
        sender.state.close()
    queue = {r["control_id"]: r for r in monitor.build(_Api(client)).queue}
    pending, refused = queue[f"P-{unique}"], queue[f"R-{unique}"]
    assert (pending["status"], pending["attempts"], pending["ack"]) == ("pending", "1", "")
    assert "Connection" in pending["detail"] and pending["written"][0]["reference"] == "Task/q1"
    assert (refused["status"], refused["attempts"], refused["ack"]) == ("refused", "1", "AE")
