"""The MLLP listener's limits over real loopback sockets: connection caps per sender address
and in total, a frame deadline that trickled bytes do not extend, a bounded frame size, and
MLLP over TLS (a throw-away self-signed certificate made here).  Counts and waits are small
and bounded; nothing asserts a duration."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time

import pytest
from hl7v2_messages import adt_a04
from tls_certs import self_signed

from adapters.hl7v2 import er7, mllp
from adapters.hl7v2.ack import ack

WAIT = 10.0


def _reply(raw: bytes) -> bytes:
    return ack(er7.parse(raw), "AA")


@contextlib.contextmanager
def running(**limits):
    tls = limits.pop("tls", None)
    server = mllp.MLLPServer("127.0.0.1", 0, _reply, lambda head: None, limits=mllp.Limits(**limits), tls=tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


def connect(server, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.bind((source, 0))
    sock.connect(tuple(server.server_address))
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def exchange(server, message: str = "", source: str = "127.0.0.1") -> er7.Message:
    with contextlib.closing(connect(server, source)) as sock:
        sock.sendall(mllp.frame((message or adt_a04("L-1")).encode()))
        return er7.parse(mllp.FrameReader(sock).next())


def test_connections_from_one_sender_are_capped_and_others_still_served():
    with running(max_per_peer=3, max_connections=20) as server:
        idle = [connect(server, "127.0.0.2") for _ in range(3)]
        wait_until(lambda: server.open_connections() == 3, "3 open connections")
        extra = [connect(server, "127.0.0.2") for _ in range(5)]
        try:
            assert all(closed_by_peer(s) for s in extra)
            assert server.stats["refused"] == 5
            assert exchange(server).first("MSA").get(1) == "AA"  # another sender is served
            idle[0].close()
            wait_until(lambda: server.open_connections() == 2, "a slot freed")
            assert exchange(server, source="127.0.0.2").first("MSA").get(1) == "AA"
        finally:
            for s in idle + extra:
                s.close()


def test_the_total_number_of_connections_is_capped():
    with running(max_per_peer=2, max_connections=3) as server:
        held = [connect(server, "127.0.0.2"), connect(server, "127.0.0.2"), connect(server, "127.0.0.3")]
        wait_until(lambda: server.open_connections() == 3, "3 open connections")
        one_more = connect(server, "127.0.0.4")
        try:
            assert closed_by_peer(one_more) and server.stats["refused"] == 1
        finally:
            for s in [*held, one_more]:
                s.close()


def test_a_trickled_frame_is_cut_at_its_deadline():
    with running(frame_timeout=0.5, idle_timeout=30) as server:
        sock = connect(server)
        try:
            sock.sendall(mllp.SB + b"MSH|")
            closed = False
            for _ in range(200):  # a byte every 50 ms would keep an idle timer alive for ever
                try:
                    sock.sendall(b"x")
                except OSError:
                    closed = True
                    break
                time.sleep(0.05)
                if server.stats["timeouts"]:
                    closed = closed_by_peer(sock)
                    break
            assert closed and server.stats["timeouts"] == 1
            wait_until(lambda: server.open_connections() == 0, "the connection closed")
        finally:
            sock.close()


def test_an_idle_connection_is_closed_after_its_last_frame():
    with running(frame_timeout=5, idle_timeout=0.3) as server:
        sock = connect(server)
        try:
            sock.sendall(mllp.frame(adt_a04("L-2").encode()))
            assert er7.parse(mllp.FrameReader(sock).next()).first("MSA").get(2) == "L-2"
            assert closed_by_peer(sock)  # then idle: closed
            assert server.stats["timeouts"] == 1
        finally:
            sock.close()


def test_a_frame_larger_than_the_limit_is_refused_and_the_listener_goes_on():
    with running(max_bytes=4096) as server:
        sock = connect(server)
        try:
            with contextlib.suppress(OSError):
                sock.sendall(mllp.SB + b"MSH|^~\\&|A|B|C|D|||ADT^A04|X1|P|2.5\r" + b"x" * 20000)
            assert closed_by_peer(sock)
            assert server.stats["oversize"] == 1
        finally:
            sock.close()
        assert exchange(server).first("MSA").get(1) == "AA"


def test_the_deframer_keeps_at_most_one_frame():
    deframer = mllp.Deframer(max_bytes=100)
    assert deframer.feed(mllp.frame(b"a") + mllp.frame(b"b") + mllp.SB + b"c") == [b"a", b"b"]
    assert deframer.in_frame and deframer.feed(mllp.EB + mllp.CR) == [b"c"] and not deframer.in_frame
    with pytest.raises(mllp.Oversize):
        deframer.feed(mllp.SB + b"y" * 101)
    with pytest.raises(mllp.FramingError):
        mllp.Deframer().feed(b"MSH|")


# --- TLS --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_mllp_over_tls(certificate):
    cert, key = certificate
    with running(tls=mllp.server_tls(cert, key)) as server:
        client_context = ssl.create_default_context(cafile=cert)
        host, port = server.server_address
        with mllp.MLLPClient(host, port, timeout=WAIT, tls=client_context) as client:
            reply = er7.parse(client.send(adt_a04("TLS-1").encode()))
            assert reply.first("MSA").get(1) == "AA" and reply.first("MSA").get(2) == "TLS-1"
        with contextlib.closing(connect(server)) as plain:  # plain MLLP to a TLS listener gets nothing
            plain.sendall(mllp.frame(adt_a04("TLS-2").encode()))
            assert closed_by_peer(plain)
        untrusting = ssl.create_default_context()
        with pytest.raises(ssl.SSLError):
            mllp.MLLPClient(host, port, timeout=WAIT, tls=untrusting)
