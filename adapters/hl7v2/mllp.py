"""MLLP (minimal lower layer protocol): ``<VT> message <FS><CR>`` over TCP, optionally TLS.

The listener is an asyncio server (in its own thread): an idle or slow connection costs a
socket and a small buffer, not a thread.  Messages are handed to a bounded pool of worker
threads (the handler talks to the FHIR server, which blocks).  Limits (:class:`Limits`):

* connections: at most ``max_connections`` at once, and ``max_per_peer`` from one address;
  one more is closed at once (counted in ``stats["refused"]``);
* a frame's bytes: at most ``max_bytes`` (an oversize message is answered by the handler's
  ``oversize`` reply, an AR when the header could be read, and the connection closed);
* time: a frame must be complete within ``frame_timeout`` seconds of its first byte (bytes
  trickling in do not extend it), and a connection with no frame started for
  ``idle_timeout`` seconds is closed.

So the memory a listener can be made to hold is bounded by max_connections × max_bytes,
and no peer can hold more than max_per_peer of the connection slots.  Framing errors
(bytes outside a frame) close the connection; none of this stops the listener.  A blocking
client (:class:`MLLPClient`) sends one message and waits for its ACK.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
DEFAULT_MAX_BYTES = 1024 * 1024
CHUNK = 65536
log = logging.getLogger("jiayi.hl7.mllp")


class FramingError(Exception):
    pass


class Oversize(Exception):
    def __init__(self, head: bytes) -> None:
        super().__init__("message larger than the limit")
        self.head = head


def frame(message: bytes) -> bytes:
    return SB + message + EB + CR


class Deframer:
    """Bytes in, whole messages out; the buffer never holds more than one frame of
    ``max_bytes`` plus one chunk, and each byte is scanned once."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.scanned = 1  # where the search for <FS> goes on

    @property
    def in_frame(self) -> bool:
        return bool(self.buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self.buffer
        buf += data
        out: list[bytes] = []
        while True:
            start = 0
            while start < len(buf) and buf[start] in (0x0D, 0x0A):  # line ends between frames
                start += 1
            if start:
                del buf[:start]
                self.scanned = 1
            if not buf:
                return out
            if buf[0] != SB[0]:
                raise FramingError(f"expected <VT> (0x0B) to start a frame, got {bytes(buf[:1])!r}")
            end = buf.find(EB, self.scanned)
            if end == -1:
                if buf.find(SB, self.scanned) != -1:
                    raise FramingError("<VT> inside a frame (a frame not closed by <FS><CR>)")
                if len(buf) - 1 > self.max_bytes:
                    raise Oversize(bytes(buf[1:4097]))
                self.scanned = max(1, len(buf))
                return out
            message = bytes(buf[1:end])
            if SB in message:
                raise FramingError("<VT> inside a frame (a frame not closed by <FS><CR>)")
            if len(message) > self.max_bytes:
                raise Oversize(message[:4096])
            del buf[:end + 1]
            if buf[:1] == CR:
                del buf[:1]
            self.scanned = 1
            out.append(message)


class FrameReader:
    """Reads MLLP frames from a blocking socket; ``next()`` returns one message's bytes or None at EOF."""

    def __init__(self, sock: socket.socket, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.sock = sock
        self.deframer = Deframer(max_bytes)
        self.ready: list[bytes] = []

    def next(self) -> bytes | None:
        while not self.ready:
            chunk = self.sock.recv(CHUNK)
            if not chunk:
                if self.deframer.in_frame:
                    raise FramingError("connection closed inside a frame")
                return None
            self.ready.extend(self.deframer.feed(chunk))
        return self.ready.pop(0)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_connections: int = 256
    max_per_peer: int = 16
    frame_timeout: float = 60.0
    idle_timeout: float = 300.0
    workers: int = 16


def server_tls(cert: str, key: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later) from PEM certificate and key files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


Handler = Callable[[bytes], bytes]


class MLLPServer:
    """Bound at construction (``server_address``); ``serve_forever()`` runs it until ``shutdown()``."""

    def __init__(self, host: str, port: int, handler: Handler, oversize: Callable[[bytes], bytes | None],
                 max_bytes: int = DEFAULT_MAX_BYTES, idle_timeout: float | None = None, *,
                 limits: Limits | None = None, tls: ssl.SSLContext | None = None) -> None:
        limits = limits or Limits(max_bytes=max_bytes)
        if idle_timeout is not None:
            limits = dataclasses.replace(limits, idle_timeout=idle_timeout)
        self.limits = limits
        self.max_bytes = limits.max_bytes
        self.handle_message = handler
        self.handle_oversize = oversize
        self.tls = tls
        self.stats = {"connections": 0, "messages": 0, "framing_errors": 0, "oversize": 0, "refused": 0,
                      "timeouts": 0}
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._sock = socket.create_server((host, port), reuse_port=False, backlog=128)
        self.server_address = self._sock.getsockname()[:2]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopped = threading.Event()
        self._started = threading.Event()
        self._workers = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="mllp-worker")

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def open_connections(self) -> int:
        with self._lock:
            return sum(self._open.values())

    # --- running --------------------------------------------------------------------------
    def serve_forever(self) -> None:
        try:
            asyncio.run(self._serve())
        finally:
            self._stopped.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._sock, ssl=self.tls, limit=CHUNK,
                                            ssl_handshake_timeout=self.limits.frame_timeout if self.tls else None)
        self._started.set()
        async with server:
            await self._stop.wait()
            server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def shutdown(self) -> None:
        """Stop serving and wait until ``serve_forever`` has returned (from another thread)."""
        if not self._started.wait(5) or self._loop is None or self._stop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._stop.set)
        self._stopped.wait(10)

    def server_close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._sock.close()

    # --- one connection ---------------------------------------------------------------------
    def _admit(self, peer: str) -> bool:
        with self._lock:
            if sum(self._open.values()) >= self.limits.max_connections or \
                    self._open.get(peer, 0) >= self.limits.max_per_peer:
                self.stats["refused"] += 1
                return False
            self._open[peer] = self._open.get(peer, 0) + 1
            self.stats["connections"] += 1
            return True

    def _leave(self, peer: str) -> None:
        with self._lock:
            self._open[peer] -= 1
            if not self._open[peer]:
                del self._open[peer]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername") or ("?", 0)
        peer = str(peername[0])
        if not self._admit(peer):
            log.warning("MLLP connection from %s refused: connection limit reached", peer)
            await _close(writer)
            return
        try:
            await self._converse(reader, writer, f"{peer}:{peername[1]}")
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception:  # a handler's fault closes this connection, never the listener
            log.exception("MLLP connection from %s closed after an error", peer)
        finally:
            self._leave(peer)
            await _close(writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        loop = asyncio.get_running_loop()
        deframer = Deframer(self.limits.max_bytes)
        frame_started: float | None = None
        while True:
            if frame_started is None:
                timeout = self.limits.idle_timeout
            else:
                timeout = frame_started + self.limits.frame_timeout - time.monotonic()
            try:
                chunk = await asyncio.wait_for(reader.read(CHUNK), max(timeout, 0.0))
            except TimeoutError:
                self.count("timeouts")
                log.warning("MLLP connection from %s closed: %s", peer,
                            "frame not complete in time" if frame_started is not None else "idle")
                return
            if not chunk:
                if deframer.in_frame:
                    self.count("framing_errors")
                    log.warning("MLLP connection from %s closed inside a frame", peer)
                return
            was_in_frame = deframer.in_frame
            try:
                messages = deframer.feed(chunk)
            except FramingError as exc:
                self.count("framing_errors")
                log.warning("MLLP framing error from %s: %s; connection closed", peer, exc)
                return
            except Oversize as exc:
                self.count("oversize")
                log.warning("message from %s larger than %d bytes refused; connection closed", peer,
                            self.limits.max_bytes)
                reply = self.handle_oversize(exc.head)
                if reply:
                    writer.write(frame(reply))
                    await asyncio.wait_for(writer.drain(), self.limits.frame_timeout)
                return
            if messages or not was_in_frame:
                frame_started = time.monotonic() if deframer.in_frame else None
            for message in messages:
                self.count("messages")
                reply = await loop.run_in_executor(self._workers, self.handle_message, message)
                writer.write(frame(reply))
                await asyncio.wait_for(writer.drain(), self.limits.frame_timeout)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 2)


def serve(host: str, port: int, handler: Handler, oversize: Callable[[bytes], bytes | None],
          max_bytes: int = DEFAULT_MAX_BYTES, *, limits: Limits | None = None,
          tls: ssl.SSLContext | None = None) -> MLLPServer:
    """A started server (its thread runs ``serve_forever``); call ``shutdown()`` to stop it."""
    server = MLLPServer(host, port, handler, oversize, max_bytes, limits=limits, tls=tls)
    threading.Thread(target=server.serve_forever, name="mllp-listener", daemon=True).start()
    return server


class MLLPClient:
    """A blocking MLLP connection: ``send(message) -> reply bytes``; TLS with ``tls`` (a client context)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES,
                 tls: ssl.SSLContext | None = None, server_hostname: str | None = None) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=server_hostname or host)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
        self.sock = sock
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
