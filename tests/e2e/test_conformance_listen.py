"""``jiayi conformance listen --suite terminal`` over real sockets: a vendor's card terminal (played
by this test) talks to the sandbox; a well-behaved one shows every test and the listener exits 0,
a sloppy one (the day without the time: refused; no retry, no look-up) is told which tests
failed and why, and it exits 1."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import requests

from benchmarks.servers import free_port

pytestmark = pytest.mark.e2e
SOCIAL_SECURITY = "urn:oid:2.16.840.1.113883.2.23.1.19.2"


class Listener:
    def __init__(self, tmp_path: Path, run_id: str, *extra: str) -> None:
        self.port, self.run_id, self.output = free_port(), run_id, tmp_path / "report"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fhir_server.cli", "conformance", "listen", "--suite", "terminal", "--port",
             str(self.port), "--run-id", run_id, "--output", str(self.output), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.base = f"http://127.0.0.1:{self.port}/fhir"

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            if any(text in line for line in self.lines):
                return
            time.sleep(0.2)
        pytest.fail(f"the listener never printed {text!r}:\n{''.join(self.lines)[-3000:]}")

    def finish(self, seconds: float = 60) -> int:
        try:
            return self.process.wait(seconds)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
            self.reader.join(5)
            self.process.stdout.close()

    def unshown(self) -> set[str]:
        return {c.get("name") for c in ET.parse(self.output / "junit.xml").getroot().iter("testcase")
                if c.find("failure") is not None}


def visit(run_id: str, time_text: str) -> dict:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "eventId", "valueString": f"ev-{run_id}"},
        {"name": "residentCardType", "valueCode": "social-security-card"},
        {"name": "residentCardNumber", "valueString": f"S{run_id}"},
        {"name": "doctorCardNumber", "valueString": f"YS{run_id}"},
        {"name": "time", "valueDateTime": time_text}, {"name": "item", "valueCode": "health-consultation"}]}


def test_a_good_terminal_shows_every_test(tmp_path):
    listener = Listener(tmp_path, "good1", "--exit-when-complete", "--timeout", "240", "--residents", "10")
    listener.wait_for("Checklist:")
    found = requests.get(f"{listener.base}/Patient", params={"identifier": f"{SOCIAL_SECURITY}|Sgood1"}, timeout=30)
    assert found.json()["total"] == 1
    body = visit("good1", time.strftime("%Y-%m-%dT%H:%M:%S+08:00"))
    first = requests.post(f"{listener.base}/Encounter/$record-service", json=body, timeout=30)
    again = requests.post(f"{listener.base}/Encounter/$record-service", json=body, timeout=30)  # a retry
    assert (first.status_code, again.status_code) == (201, 200)
    assert listener.finish() == 0, "".join(listener.lines)[-3000:]
    assert listener.unshown() == set()
    assert "[x] TRM-03" in "".join(listener.lines)


def test_a_sloppy_terminal_is_told_what_is_missing(tmp_path):
    listener = Listener(tmp_path, "bad1", "--timeout", "25", "--residents", "0")
    listener.wait_for("Checklist:")
    body = visit("bad1", time.strftime("%Y-%m-%d"))  # only the day, not the time of the service; never retried
    assert requests.post(f"{listener.base}/Encounter/$record-service", json=body, timeout=30).status_code == 400
    listener.wait_for("[!] TRM-02")
    assert listener.finish() == 1
    assert listener.unshown() == {"TRM-01", "TRM-02", "TRM-03", "TRM-04"}
    printed = "".join(listener.lines)
    assert "[!] TRM-01" in printed and "expected HTTP 201 (created), got 400" in printed
    assert "time-with-zone" in printed and "[ ] TRM-03" in printed


def test_a_his_shows_referrals_over_fhir_and_hl7v2(tmp_path):
    from hl7v2_messages import ref_i12, rri_i12

    from e2e.hl7v2_support import send

    hl7_port = free_port()
    listener = Listener(tmp_path, "his1", "--exit-when-complete", "--timeout", "240", "--residents", "0",
                        "--suite", "his", "--hl7-port", str(hl7_port))
    listener.wait_for("MLLP listener on")
    printed = "".join(listener.lines)
    resident = printed.split("resident Patient/")[1].split(":")[0]
    hospital = printed.split("referral receiver Organization/")[1].split(",")[0]
    doctor = printed.split("family doctor Practitioner/")[1].split()[0]
    sd = "https://jiayi.dev/fhir/StructureDefinition/"
    referral = {"resourceType": "ServiceRequest", "meta": {"profile": [sd + "jiayi-referral"]},
                "extension": [{"url": sd + "jiayi-referral-direction", "valueCoding": {
                    "system": "https://jiayi.dev/fhir/CodeSystem/referral-direction", "code": "upward"}}],
                "status": "active", "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
                "subject": {"reference": f"Patient/{resident}"}, "authoredOn": "2026-12-01",
                "requester": {"reference": f"Practitioner/{doctor}"},
                "performer": [{"reference": f"Organization/{hospital}"}]}
    made = requests.post(f"{listener.base}/ServiceRequest", json=referral, timeout=30)
    assert made.status_code == 201, made.text
    task = {"resourceType": "Task", "meta": {"profile": [sd + "jiayi-referral-task"]}, "status": "requested",
            "intent": "order", "focus": {"reference": f"ServiceRequest/{made.json()['id']}"},
            "for": {"reference": f"Patient/{resident}"}, "authoredOn": "2026-12-01T10:00:00+08:00",
            "requester": {"reference": f"Practitioner/{doctor}"}, "owner": {"reference": f"Organization/{hospital}"}}
    created = requests.post(f"{listener.base}/Task", json=task, timeout=30)
    assert created.status_code == 201, created.text
    waiting = requests.get(f"{listener.base}/Task", params={"owner": f"Organization/{hospital}",
                                                            "status": "requested"}, timeout=30)
    assert waiting.status_code == 200
    assert send(hl7_port, ref_i12("HIS-REF-1", referral="RHIS0001")).first("MSA").get(1) == "AA"
    assert send(hl7_port, rri_i12("HIS-RRI-1", referral="RHIS0001")).first("MSA").get(1) == "AA"
    assert listener.finish() == 0, "".join(listener.lines)[-3000:]
    assert listener.unshown() == set()


def test_jiayi_import_passes_the_public_health_suite(tmp_path):
    """Jiayi's own importer (``jiayi import``) is the reference public-health client."""
    listener = Listener(tmp_path, "ph1", "--exit-when-complete", "--timeout", "240", "--residents", "0",
                        "--suite", "public-health")
    listener.wait_for("Checklist:")
    data = Path(__file__).resolve().parents[1] / "data" / "publichealth" / "resident.csv"
    imported = subprocess.run([sys.executable, "-m", "fhir_server.cli", "import", "--type", "resident", "--server",
                               listener.base, "--on-error", "skip", "--quiet", str(data)],
                              capture_output=True, text=True, timeout=300, check=False)
    assert imported.returncode in (0, 1), imported.stderr[-2000:]  # 1: some rows of the sample are bad on purpose
    assert listener.finish() == 0, "".join(listener.lines)[-3000:]
    assert listener.unshown() == set()
