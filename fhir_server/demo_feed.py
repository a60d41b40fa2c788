"""The demo district's integration traffic: what a clinic's feeds would have sent, so the web
console's integration monitor (issue 22) is not empty in ``jiayi serve --demo``.

Run once, when the demo district is first loaded and before the server listens, through the
real adapters as clients of the FHIR API (in-process, over :class:`WsgiTransport`): a
public-health import of hypertension follow-ups for six demo residents, two of its rows bad
(the clinic's error report), and two HL7 v2 ORU^R01 results from the hospital laboratory, one
with a value that is not a number (answered AE).  Each run and message is recorded as the
adapters always record them (AuditEvents), and what was written stays, like any import."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter

from adapters.fhir_client import FhirClient
from adapters.hl7v2.message_audit import Recorder
from adapters.hl7v2.service import Listener
from adapters.hl7v2.state import State
from adapters.publichealth import exporter, synthetic, writers
from adapters.publichealth.importer import import_file

log = logging.getLogger("jiayi.demo")

BASE = "http://localhost/fhir"
FOLLOW_UP = "hypertension-follow-up"
FILE_NAME = "高血压随访-2025Q1.csv"
LAB = ("LIS", "DEMO-HOSPITAL")


class WsgiTransport(BaseAdapter):
    """A ``requests`` transport that answers from a Flask app's test client: the adapters'
    real HTTP client, without a socket (the demo's feed, the adapters' API tests)."""

    def __init__(self, flask_client, log: list | None = None) -> None:
        super().__init__()
        self.flask = flask_client
        self.log = log if log is not None else []

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.log.append((request.method, path, request.body))
        answer = self.flask.open(path, method=request.method, data=request.body,
                                 headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"})
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.get_data()
        response.headers.update(dict(answer.headers))
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def in_process_client(app, base: str = BASE) -> FhirClient:
    transport = WsgiTransport(app.test_client())

    def session() -> requests.Session:
        s = requests.Session()
        s.mount(base, transport)
        return s

    return FhirClient(base, session_factory=session, retries=0)


def feed(app) -> dict[str, int]:
    """Send the demo's import and messages through the adapters; what each gave (counts)."""
    client = in_process_client(app)
    people = [p for p in exporter.fetch("resident", client) if p.get("record_no") and p.get("id_number")][:6]
    if not people:
        return {}
    with tempfile.TemporaryDirectory(prefix="jiayi-demo-feed-") as work:
        result = import_file(_follow_up_file(Path(work), people), FOLLOW_UP, BASE, client=client)
    acks = _lab_results(client, people[0]["id_number"], Path(tempfile.gettempdir()))
    return {"imported rows": result.rows, "rows refused": result.rejected, "HL7 v2 messages": len(acks)}


def _follow_up_file(folder: Path, people: list[dict]) -> Path:
    """Six residents' first-quarter follow-ups as a clinic would export them, two rows wrong."""
    rows = synthetic.follow_ups(people, 1, FOLLOW_UP, seed=2025)
    rows[2]["sbp"] = "高"  # a word where the systolic pressure goes
    rows[4]["visit_date"] = "2025-02-30"  # a day that does not exist
    path = folder / FILE_NAME
    writers.write(path, FOLLOW_UP, rows, "csv")
    return path


def _lab_results(client: FhirClient, id_number: str, folder: Path) -> list[bytes]:
    with tempfile.NamedTemporaryFile(prefix="jiayi-demo-hl7-", suffix=".sqlite3", dir=folder) as state_file:
        state = State(state_file.name)
        try:
            listener = Listener(client, state, recorder=Recorder(client, background=False))
            return [listener.handle(_oru(f"LIS-DEMO-{n}", id_number, value).encode("utf-8"))
                    for n, value in ((1, "5.6"), (2, "五点六"))]
        finally:
            state.close()


def _oru(control: str, id_number: str, glucose: str) -> str:
    """A laboratory's fasting glucose result (ORU^R01, v2.5.1) for a resident by 身份证号."""
    return "\r".join([
        f"MSH|^~\\&|{LAB[0]}|{LAB[1]}|JIAYI|JIAYI|20250320100000+0800||ORU^R01^ORU_R01|{control}|P|2.5.1"
        "||||||UNICODE UTF-8",
        f"PID|1||{id_number}^^^&2.16.156.10011.1.3&ISO^NNCHN",
        f"OBR|1|PL{control}^CHCEHR|{control}^LIS|1558-6^空腹血糖^LN|||20250320080000+0800|||||||||||||||"
        "20250320093000+0800|||F",
        f"OBX|1|NM|1558-6^空腹血糖^LN||{glucose}|mmol/L^mmol/L^UCUM|3.9-6.1|N|||F|||20250320080000+0800",
    ]) + "\r"
