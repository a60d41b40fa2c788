"""``jiayi conformance listen``: a sandbox Jiayi (a fresh SQLite database, the IG, a small demo
district and a known resident, doctor and contract) on a real socket, which records every request
a vendor's client makes, checks it against the client suite (:mod:`.checklist`) and prints the
checklist whenever it changes.  It stops when every mandatory test is shown (with
``--exit-when-complete``), at ``--timeout`` or on Ctrl-C, and writes the same reports as ``run``.

The sandbox has no authentication (synthetic data only) and serves loopback unless told
otherwise."""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from fhir_server.conformance_kit import scripts as script_files
from fhir_server.conformance_kit.checklist import Checklist, Recorded
from fhir_server.conformance_kit.engine import now
from fhir_server.conformance_kit.results import masked
from fhir_server.conformance_kit.run import conformant, profile_validator, write_reports

WORLD = ("phc", "hospital", "doctor", "specialist", "team", "package", "resident", "contract")
SOCIAL_SECURITY = "urn:oid:2.16.840.1.113883.2.23.1.19.2"


@dataclass
class Sandbox:
    base: str
    resident_id: str
    resident_card: str  # 社会保障卡 number (social-security-card)
    doctor_card: str


def seed(client, run_id: str) -> dict[str, str]:
    """The known world (the conformance fixtures) in the sandbox; fixture name → id."""
    from fhir_server.conformance_kit.engine import _VARIABLE
    from fhir_server.conformance_kit.scripts import tests_dir

    ids: dict[str, str] = {}

    def value(name: str) -> str:
        return run_id if name == "runId" else ids[name.removesuffix("Id")]

    today = dt.date.today()
    for name in WORLD:
        text = (tests_dir() / "fixtures" / f"{name}.json").read_text(encoding="utf-8")
        body = json.loads(_VARIABLE.sub(lambda m: value(m.group(1)), text))
        if name == "contract":  # in force today, whatever day the sandbox runs
            start = today - dt.timedelta(days=30)
            body["applies"] = {"start": start.isoformat(), "end": (start + dt.timedelta(days=364)).isoformat()}
            body["issued"] = f"{start.isoformat()}T09:00:00+08:00"
            for signer in body["signer"]:
                for signature in signer["signature"]:
                    signature["when"] = body["issued"]
        response = client.post(f"/fhir/{body['resourceType']}", json=body,
                               headers={"Content-Type": "application/fhir+json"})
        if response.status_code != 201:
            raise RuntimeError(f"the sandbox could not create its {name}: {response.get_data(as_text=True)[:500]}")
        ids[name] = response.get_json()["id"]
    return ids


class Recorder:
    """WSGI middleware: hands every request below ``/fhir/`` and its answer to ``observe``."""

    def __init__(self, app, observe: Callable[[Recorded], None]) -> None:
        self.app, self.observe = app, observe

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = list(self.app(environ, capture))
        path = environ.get("PATH_INFO", "")
        if path.startswith("/fhir/") or path == "/fhir":
            query = environ.get("QUERY_STRING", "")
            headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            self.observe(Recorded(environ["REQUEST_METHOD"], path[len("/fhir/"):] + (f"?{query}" if query else ""),
                                  masked(headers), body, int(captured["status"].split()[0]),
                                  dict(captured["headers"]), b"".join(chunks)))
        return chunks


def _message_type(raw: bytes) -> str:
    """``REF^I12`` from MSH-9 (the first two components)."""
    text = raw.decode("utf-8", "replace").lstrip("\x0b")
    if not text.startswith("MSH") or len(text) < 8:
        return "unknown"
    fields = text.split("\r", 1)[0].split(text[3])
    return "^".join(fields[8].split(text[4])[:2]) if len(fields) > 8 else "unknown"


def _ack_status(reply: bytes) -> int:
    """The ACK's MSA-1 as an HTTP-like status: AA/CA 200, AE/CE 422, AR/CR (or none) 400."""
    for segment in reply.decode("utf-8", "replace").replace("\n", "\r").split("\r"):
        if segment.startswith("MSA"):
            code = segment.split(segment[3])[1] if len(segment) > 4 else ""
            return {"AA": 200, "CA": 200, "AE": 422, "CE": 422}.get(code, 400)
    return 400


def start_mllp(host: str, port: int, base: str, work: str,
               observe: Callable[[Recorded], None]) -> tuple[int, Callable[[], None]]:
    """The sandbox's HL7 v2 MLLP listener (the ``jiayi hl7 listen`` adapter, forwarding to the
    sandbox); each message and its ACK is recorded as ``POST hl7v2/<type>``."""
    from adapters.fhir_client import FhirClient
    from adapters.hl7v2 import mllp
    from adapters.hl7v2.service import Listener
    from adapters.hl7v2.state import State

    state = State(f"{work}/hl7-state.sqlite3")
    listener = Listener(FhirClient(base), state)

    def handle(raw: bytes) -> bytes:
        reply = listener.handle(raw)
        observe(Recorded("POST", f"hl7v2/{_message_type(raw)}", {"Content-Type": "x-application/hl7-v2+er7"}, raw,
                         _ack_status(reply), {"Content-Type": "x-application/hl7-v2+er7"}, reply))
        return reply

    server = mllp.MLLPServer(host, port, handle, listener.oversize)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        state.close()

    return server.server_address[1], stop


def listen(suite: str, host: str, port: int, output: Path, lang: str = "en", residents: int = 50,
           exit_when_complete: bool = False, timeout: float | None = None, run_id: str | None = None,
           echo: Callable[[str], None] = print, hl7_port: int = 0) -> bool:
    import logging

    from werkzeug.serving import make_server

    from fhir_server.app import create_app
    from fhir_server.serving import load_demo, prepare_database

    selected = script_files.load(suite=suite)
    if not selected:
        raise ValueError(f"no client TestScript for suite '{suite}' yet")
    run_id = run_id or secrets.token_hex(4)
    with tempfile.TemporaryDirectory(prefix="jiayi-sandbox-") as work:
        url = f"sqlite:///{work}/sandbox.sqlite3"
        echo(f"Preparing the sandbox (IG{f', a demo district of {residents} residents' if residents else ''}) …")
        prepare_database(url)
        if residents:
            load_demo(url, residents=residents)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the checklist is the log
        server = make_server(host, port, lambda environ, start: [], threaded=True)
        base = f"http://{host}:{server.server_port}/fhir"
        app = create_app({"DATABASE_URL": url, "BASE_URL": base, "AUTH_JWKS": None, "AUTH": "off"})
        ids = seed(app.test_client(), run_id)
        checklist = Checklist(selected, profile_validator(), base)
        lock, changed = threading.Lock(), threading.Event()

        def observe(recorded: Recorded) -> None:
            with lock:
                if checklist.observe(recorded):
                    changed.set()

        server.app = Recorder(app, observe)  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        mllp = start_mllp(host, hl7_port, base, work, observe) if suite == "his" else None
        started = now()
        sandbox = Sandbox(base, ids["resident"], f"S{run_id}", f"YS{run_id}")
        echo(f"Sandbox for the '{suite}' suite at {base} (no authentication; synthetic data)")
        echo(f"  resident Patient/{sandbox.resident_id}: social-security-card {sandbox.resident_card} "
             f"({SOCIAL_SECURITY}), under contract Contract/{ids['contract']}")
        echo(f"  family doctor card (doctorCardNumber): {sandbox.doctor_card}; service item: health-consultation")
        echo(f"  referral receiver Organization/{ids['hospital']}, family doctor Practitioner/{ids['doctor']}")
        if mllp is not None:
            echo(f"  HL7 v2 MLLP listener on {host}:{mllp[0]} (REF^I12, RRI^I12)")
        echo("Checklist:")
        for line in checklist.lines(lang):
            echo("  " + line)
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while not (exit_when_complete and checklist.complete):
                if deadline and time.monotonic() > deadline:
                    echo("Time is up.")
                    break
                if changed.wait(0.5):
                    changed.clear()
                    with lock:
                        echo(f"Checklist ({now()}):")
                        for line in checklist.lines(lang):
                            echo("  " + line)
        except KeyboardInterrupt:
            echo("Stopped.")
        finally:
            if mllp is not None:
                mllp[1]()
            server.shutdown()
            thread.join(5)
            app.extensions["jiayi.database"].dispose()
        with lock:
            results = checklist.results(started, now())
        ok = conformant(results)
        files = write_reports(results, output, target=f"{suite} client (sandbox {base})", run_id=run_id, lang=lang,
                              conformant=ok)
        shown = sum(i.status == "shown" for i in checklist.items)
        echo(f"{shown}/{len(checklist.items)} shown; {'CONFORMANT' if ok else 'NOT CONFORMANT'}")
        for f in files:
            echo(f"  {f}")
        return ok
