"""``jiayi hl7 listen`` as a process with its security options: MLLP over TLS (a throw-away
certificate made here), the allow-list of sending facilities, and the connection cap per
sender; against a real ``jiayi serve``."""

from __future__ import annotations

import contextlib
import socket
import ssl

import pytest
from hl7v2_messages import adt_a04, unique_id
from tls_certs import self_signed

from adapters.hl7v2 import er7, mllp
from e2e.hl7v2_support import TIMEOUT, running_listener, send, wait_for

pytestmark = pytest.mark.e2e


def test_tls_and_the_allow_list(server, tmp_path, unique):
    cert, key = self_signed(tmp_path)
    args = ("--tls-cert", cert, "--tls-key", key, "--allow-sender", "CITYHIS^CITYHOSP",
            "--allow-sender", "NINGHE-CHC")
    with running_listener(server, tmp_path, extra_args=args) as port:
        trusted = ssl.create_default_context(cafile=cert)
        with mllp.MLLPClient("127.0.0.1", port, timeout=TIMEOUT, tls=trusted) as client:
            allowed = er7.parse(client.send(adt_a04(f"TLS-{unique}", id_number=unique_id(unique)).encode()))
            assert allowed.first("MSA").get(1) == "AA"
            other = adt_a04(f"TLS-X-{unique}").replace("|CHCEHR|NINGHE-CHC|", "|OTHER|ELSEWHERE|", 1)
            refused = er7.parse(client.send(other.encode()))
            assert refused.first("MSA").get(1) == "AR"
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            send(port, adt_a04(f"PLAIN-{unique}"))  # plain MLLP gets no answer from a TLS listener


def test_one_sender_cannot_take_every_connection(server, tmp_path, unique):
    with running_listener(server, tmp_path, extra_args=("--max-per-sender", "4")) as port:
        idle = []
        try:
            for _ in range(12):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.settimeout(TIMEOUT)
                sock.bind(("127.0.0.2", 0))
                sock.connect(("127.0.0.1", port))
                idle.append(sock)

            def refused() -> int:
                count = 0
                for sock in idle:
                    sock.setblocking(False)
                    with contextlib.suppress(BlockingIOError):
                        if sock.recv(1) == b"":
                            count += 1
                    sock.setblocking(True)
                return count

            assert wait_for(lambda: refused() >= 8, what="the extra connections closed")
            ack = send(port, adt_a04(f"CAP-{unique}", id_number=unique_id(unique)))  # another address
            assert ack.first("MSA").get(1) == "AA"
        finally:
            for sock in idle:
                sock.close()
