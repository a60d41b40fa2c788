"""Server processes for a run: ``jiayi serve`` and the floor server, both gunicorn with the
same settings (workers, threads, gthread), each in its own process group.

Started like ``tests/e2e/conftest.py`` starts a server: a free loopback port, stdout/stderr
to files, the group terminated at the end (SIGKILL for what is left), and on Linux the
server dies with the harness.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0


@dataclass
class Server:
    base: str  # http://127.0.0.1:port/fhir (or …/floor)
    process: subprocess.Popen
    stderr: Path

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the workers have used so far.  On a shared machine this is
        the number that load does not distort much: wall-clock rates fall when other processes
        take the cores, CPU per request hardly moves.  (PostgreSQL's own backends are not counted.)"""
        total = 0
        for pid in self.worker_pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
        return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Linux: SIGTERM the child when this process dies, even by SIGKILL."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    return found


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the whole process group (master and workers); SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def running(command: list[str], base: str, probe: str, workdir: Path, name: str) -> Iterator[Server]:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(workdir)}
    env.pop("JIAYI_BASE_URL", None)
    stderr = workdir / f"{name}.stderr.log"
    with (workdir / f"{name}.stdout.log").open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                   cwd=workdir, start_new_session=True,
                                   preexec_fn=die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
    try:
        _wait_until_up(process, base + probe, stderr)
        yield Server(base, process, stderr)
    finally:
        stop(process)


def _wait_until_up(process: subprocess.Popen, url: str, stderr: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(url, timeout=10).status_code == 200:
                return
        time.sleep(0.2)
    state = f"exited with {process.returncode}" if process.poll() is not None else "did not answer in time"
    stop(process)
    raise RuntimeError(f"server {state} ({url}); stderr:\n{stderr.read_text(errors='replace')[-4000:]}")


def jiayi_server(database: str, workdir: Path, workers: int, threads: int, name: str = "jiayi"):
    """A real ``jiayi serve`` (gunicorn, gthread) on a free port, access log off."""
    port = free_port()
    command = [sys.executable, "-m", "fhir_server.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--database", database, "--workers", str(workers), "--threads", str(threads)]
    return running(command, f"http://127.0.0.1:{port}/fhir", "/metadata", workdir, name)


def floor_server(database: str, workdir: Path, workers: int, threads: int, name: str = "floor"):
    """The bare Flask + SQLAlchemy floor app, served by gunicorn with the same settings."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.floor", "--port", str(port), "--database", database,
               "--workers", str(workers), "--threads", str(threads)]
    return running(command, f"http://127.0.0.1:{port}/floor", "/ping", workdir, name)


@dataclass
class ServerGroup:
    """Several servers of one kind behind one database (``--servers N``: as if on N machines).
    Clients are spread over ``bases``; CPU and worker processes are summed over the group."""

    servers: list[Server]

    @property
    def base(self) -> str:
        return self.servers[0].base

    @property
    def bases(self) -> list[str]:
        return [s.base for s in self.servers]

    def worker_pids(self) -> list[int]:
        return [pid for s in self.servers for pid in s.worker_pids()]

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)


@contextlib.contextmanager
def server_group(start, database: str, workdir: Path, workers: int, threads: int, count: int,
                 name: str) -> Iterator[ServerGroup]:
    """``count`` servers made by ``start`` (:func:`jiayi_server` or :func:`floor_server`), each
    on its own port, started one after the other; one server keeps the plain log names."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(start(database, workdir, workers, threads,
                                             name if count == 1 else f"{name}-{i + 1}")) for i in range(count)]
        yield ServerGroup(servers)


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """Peak resident set size (VmHWM) of each live process, in MiB."""
    peaks: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
    return peaks
