"""MLLP (minimal lower layer protocol): ``<VT> message <FS><CR>`` over TCP.

A threaded server (one thread per connection, so several senders at once) that reads
frames with a bounded size and hands each message to a handler returning the reply bytes.
Framing errors (bytes outside a frame) close the connection; an oversize message is
answered by the handler's ``oversize`` reply (an AR when the header could be read) and
the connection closed; neither stops the listener.  A blocking client sends one message
and waits for its ACK.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
DEFAULT_MAX_BYTES = 1024 * 1024
log = logging.getLogger("jiayi.hl7.mllp")


class FramingError(Exception):
    pass


class Oversize(Exception):
    def __init__(self, head: bytes) -> None:
        super().__init__("message larger than the limit")
        self.head = head


def frame(message: bytes) -> bytes:
    return SB + message + EB + CR


class FrameReader:
    """Reads MLLP frames from a socket; ``next()`` returns one message's bytes or None at EOF."""

    def __init__(self, sock: socket.socket, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.sock = sock
        self.max_bytes = max_bytes
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def next(self) -> bytes | None:
        while True:
            stripped = self.buffer.lstrip(b"\r\n")  # tolerate line ends between frames
            if stripped:
                if stripped[:1] != SB:
                    raise FramingError(f"expected <VT> (0x0B) to start a frame, got {stripped[:1]!r}")
                end = stripped.find(EB, 1)
                if end != -1:
                    message = stripped[1:end]
                    rest = stripped[end + 1:]
                    if rest[:1] == CR:
                        rest = rest[1:]
                    self.buffer = rest
                    if SB in message:
                        raise FramingError("<VT> inside a frame (a frame not closed by <FS><CR>)")
                    if len(message) > self.max_bytes:
                        raise Oversize(message[:4096])
                    return message
                if SB in stripped[1:]:
                    raise FramingError("<VT> inside a frame (a frame not closed by <FS><CR>)")
                if len(stripped) - 1 > self.max_bytes:
                    raise Oversize(stripped[1:4097])
            self.buffer = stripped
            if not self._fill():
                if self.buffer:
                    raise FramingError("connection closed inside a frame")
                return None


Handler = Callable[[bytes], bytes]


class MLLPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, handler: Handler, oversize: Callable[[bytes], bytes | None],
                 max_bytes: int = DEFAULT_MAX_BYTES, idle_timeout: float = 300.0) -> None:
        self.handle_message = handler
        self.handle_oversize = oversize
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout
        self.stats = {"connections": 0, "messages": 0, "framing_errors": 0, "oversize": 0}
        self._lock = threading.Lock()
        super().__init__((host, port), _Connection)

    def count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1


class _Connection(socketserver.BaseRequestHandler):
    server: MLLPServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.idle_timeout)
        self.server.count("connections")
        reader = FrameReader(sock, self.server.max_bytes)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        while True:
            try:
                message = reader.next()
            except FramingError as exc:
                self.server.count("framing_errors")
                log.warning("MLLP framing error from %s: %s; connection closed", peer, exc)
                return
            except Oversize as exc:
                self.server.count("oversize")
                log.warning("message from %s larger than %d bytes refused; connection closed", peer,
                            self.server.max_bytes)
                reply = self.server.handle_oversize(exc.head)
                if reply:
                    _send_quietly(sock, frame(reply))
                return
            except (TimeoutError, OSError):
                return
            if message is None:
                return
            self.server.count("messages")
            reply = self.server.handle_message(message)
            try:
                sock.sendall(frame(reply))
            except OSError:
                return


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass


def serve(host: str, port: int, handler: Handler, oversize: Callable[[bytes], bytes | None],
          max_bytes: int = DEFAULT_MAX_BYTES) -> MLLPServer:
    """A started server (its thread runs ``serve_forever``); call ``shutdown()`` to stop it."""
    server = MLLPServer(host, port, handler, oversize, max_bytes)
    threading.Thread(target=server.serve_forever, name="mllp-listener", daemon=True).start()
    return server


class MLLPClient:
    """A blocking MLLP connection: ``send(message) -> reply bytes``."""

    def __init__(self, host: str, port: int, timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.reader = FrameReader(self.sock, max_bytes)

    def send(self, message: bytes) -> bytes:
        self.sock.sendall(frame(message))
        reply = self.reader.next()
        if reply is None:
            raise ConnectionError("the peer closed the connection without an acknowledgment")
        return reply

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
