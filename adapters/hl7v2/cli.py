"""``jiayi hl7 listen | convert | send | queue`` (SPEC §5, Appendix A)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from fhir_server.core import jsonio

from ..cli_auth import Auth, auth_options

DEFAULT_STATE = "jiayi-hl7.sqlite3"


@click.group(help="HL7 v2 messages: MLLP listener, conversion, outbound referrals.")
def hl7() -> None:
    pass


@hl7.command(help="Listen for HL7 v2 messages over MLLP and write them to the FHIR server.")
@click.option("--port", required=True, type=int, help="MLLP port.")
@click.option("--server", "server_url", required=True, help="Base URL of the FHIR API (http://HOST:PORT/fhir).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--state", "state_path", default=DEFAULT_STATE, show_default=True,
              help="The adapter's state file (ACKs sent, outbound queue).")
@click.option("--config", "config_path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="endpoints.json: hospitals (the outbound worker runs when there are any), allow-list, TLS, "
                   "limits.")
@click.option("--max-bytes", default=1024 * 1024, show_default=True, type=int, help="Largest message accepted.")
@click.option("--interval", default=5.0, show_default=True, type=float, help="Outbound polling interval (s).")
@click.option("--allow-sender", "allow_senders", multiple=True, metavar="[APP^]FACILITY",
              help="Accept messages only from this MSH-4 facility (and MSH-3 application); repeatable. "
                   "Without any (here or in the config), every sender is accepted.")
@click.option("--lenient", is_flag=True, default=None,
              help="Drop values that are not valid for their data type with a warning (AA) instead of AE.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Serve MLLP over TLS with this PEM certificate (chain).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The PEM private key of --tls-cert.")
@click.option("--max-connections", type=click.IntRange(1), default=None, help="Open connections at most (256).")
@click.option("--max-per-sender", type=click.IntRange(1), default=None,
              help="Open connections from one address at most (16).")
@click.option("--frame-timeout", type=click.FloatRange(0.1), default=None,
              help="Seconds a message may take to arrive from its first byte (60).")
@auth_options
def listen(port: int, server_url: str, host: str, state_path: str, config_path: str | None, max_bytes: int,
           interval: float, allow_senders: tuple[str, ...], lenient: bool | None, tls_cert: str | None,
           tls_key: str | None, max_connections: int | None, max_per_sender: int | None,
           frame_timeout: float | None, auth: Auth | None) -> None:
    from ..fhir_client import FhirClient
    from . import config as config_module
    from . import mllp, sender
    from .message_audit import Recorder
    from .service import Listener
    from .state import State

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = config_module.load(config_path)
    if allow_senders:
        cfg.allowed_senders = [*(cfg.allowed_senders or []), *map(config_module.SenderRule.parse, allow_senders)]
    if lenient:
        cfg.lenient = True
    cert, key = tls_cert or cfg.tls_cert, tls_key or cfg.tls_key
    if bool(cert) != bool(key):
        raise click.UsageError("TLS needs both --tls-cert and --tls-key")
    limits = dict(cfg.limits, max_bytes=max_bytes)
    for name, value in (("max_connections", max_connections), ("max_per_peer", max_per_sender),
                        ("frame_timeout", frame_timeout)):
        if value is not None:
            limits[name] = value
    state = State(state_path)
    server = FhirClient(server_url, auth=auth)
    recorder = Recorder(server)
    listener = Listener(server, state, cfg, recorder=recorder)
    mllp_server = mllp.MLLPServer(host, port, listener.handle, listener.oversize, limits=mllp.Limits(**limits),
                                  tls=mllp.server_tls(cert, key) if cert and key else None)
    if cfg.endpoints:
        sender.start(sender.Sender(server, state, cfg, recorder=listener.recorder), interval)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=mllp_server.shutdown).start())
    click.echo(f"HL7 v2 MLLP{'/TLS' if cert else ''} listener on {host}:{mllp_server.server_address[1]} → "
               f"{server_url} (state {state_path}, max {max_bytes} bytes"
               f"{', senders ' + str(len(cfg.allowed_senders)) + ' allowed' if cfg.allowed_senders is not None else ''}"
               f"{', outbound to ' + ', '.join(e.name for e in cfg.endpoints) if cfg.endpoints else ''})", err=True)
    try:
        mllp_server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        mllp_server.server_close()
        recorder.drain(10.0)
        state.close()


@hl7.command(help="Print the FHIR transaction Bundle an HL7 v2 message becomes (no server needed); "
                  "with --to v2, the REF^I12 a FHIR referral (ServiceRequest or Bundle) becomes.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "target", type=click.Choice(["fhir", "v2"]), default="fhir", show_default=True)
@click.option("--lenient", is_flag=True,
              help="Drop values not valid for their data type (warnings) instead of refusing.")
def convert(file: str, target: str, lenient: bool) -> None:
    raw = Path(file).read_bytes()
    if target == "v2":
        from .outbound import convert_fhir

        try:
            resource = json.loads(raw.decode("utf-8-sig"))
            message = convert_fhir(resource)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            click.echo(f"error: {file}: not a FHIR referral: {exc}", err=True)
            sys.exit(2)
        click.echo(message.decode("utf-8").replace("\r", "\n"), nl=False)
        return
    from . import er7, inbound
    from .errors import HL7Error

    try:
        conv = inbound.convert(er7.parse(raw), lenient=lenient)
    except HL7Error as exc:
        click.echo(f"refused ({exc.ack_code}): " + "; ".join(p.describe() for p in exc.problems), err=True)
        sys.exit(2)
    for problem in conv.warnings:
        click.echo(f"warning: {problem.describe()}", err=True)
    click.echo(jsonio.dumps(conv.bundle(), pretty=True).decode())


@hl7.command(help="Run the outbound worker: referrals to configured hospitals as REF^I12, "
                  "Task changes as RRI^I12, with retries.")
@click.option("--server", "server_url", required=True, help="Base URL of the FHIR API.")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--state", "state_path", default=DEFAULT_STATE, show_default=True)
@click.option("--interval", default=5.0, show_default=True, type=float, help="Polling interval (s).")
@click.option("--once", is_flag=True, help="Poll and deliver once, then exit.")
@auth_options
def send(server_url: str, config_path: str, state_path: str, interval: float, once: bool, auth: Auth | None) -> None:
    from ..fhir_client import FhirClient
    from . import config as config_module
    from .message_audit import Recorder
    from .sender import Sender
    from .state import State

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state = State(state_path)
    server = FhirClient(server_url, auth=auth)
    recorder = Recorder(server)
    worker = Sender(server, state, config_module.load(config_path), recorder=recorder)
    if once:
        queued = worker.poll()
        delivered = worker.deliver()
        recorder.flush()
        click.echo(f"queued {queued}, delivered {delivered}; outbox {worker.state.counts()}")
        return
    with contextlib.suppress(KeyboardInterrupt):
        worker.run(interval)
    recorder.drain(10.0)


@hl7.command(help="Show the outbound queue (or re-queue a refused message with --retry ID).")
@click.option("--state", "state_path", default=DEFAULT_STATE, show_default=True)
@click.option("--status", type=click.Choice(["pending", "sent", "refused"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option("--retry", "retry_id", type=int, default=None)
def queue(state_path: str, status: str | None, as_json: bool, retry_id: int | None) -> None:
    from .state import State

    if not Path(state_path).exists():
        click.echo(f"no state file {state_path}", err=True)
        sys.exit(1)
    state = State(state_path)
    if retry_id is not None:
        ok = state.retry(retry_id)
        click.echo(f"message {retry_id} {'re-queued' if ok else 'not found or already sent'}")
        sys.exit(0 if ok else 1)
    rows = state.outbox(status)

    def when(t: float | None) -> str:
        return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else ""

    if as_json:
        click.echo(json.dumps([{"id": r.id, "endpoint": r.endpoint, "kind": r.kind, "about": r.about,
                                "controlId": r.control_id, "status": r.status, "attempts": r.attempts,
                                "created": when(r.created), "nextAttempt": when(r.next_attempt),
                                "sent": when(r.sent), "ack": r.ack_code, "lastError": r.last_error}
                               for r in rows], indent=2, ensure_ascii=False))
        return
    counts = state.counts()
    click.echo("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    for r in rows:
        click.echo(f"{r.id:>6} {r.status:<8} {r.kind:<8} {r.endpoint:<16} {r.about:<24} attempts {r.attempts:<3} "
                   f"next {when(r.next_attempt) if r.status == 'pending' else '-':<20} "
                   f"{r.ack_code or ''} {(r.last_error or '')[:60]}")
