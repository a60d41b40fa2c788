"""Work that runs beside the API: the Bulk Data exports (and whatever else is plugged in here).

A runner is an object with a ``name`` and a ``step()`` that does one piece of work and returns
whether there was any (``False``: the thread sleeps ``IDLE_SECONDS`` before asking again).
Runners coordinate through the database only (leases on their rows), so any number of
processes may run them: ``jiayi worker`` (one or more, beside the web servers) or, for a small
deployment, a thread of each ``jiayi serve`` worker (``JIAYI_BACKGROUND_THREAD``, on by default).

To add a kind of background work, add a factory to :data:`RUNNERS`: a function of
``(database, settings, stopping)`` that returns the runner and how many threads it gets.
``stopping`` is set when the process shuts down (SIGTERM): a runner in the middle of a long
piece of work should look at it between steps of its own and hand its work back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from fhir_server.bulk.runner import ExportRunner
from fhir_server.config import Settings
from fhir_server.storage.db import Database

log = logging.getLogger("jiayi.background")


class Runner(Protocol):
    name: str

    def step(self) -> bool: ...


IDLE_SECONDS = 1.0
RUNNERS: list[Callable[[Database, Settings, threading.Event], tuple[Runner, int]]] = [
    lambda database, settings, stopping: (ExportRunner(database, settings, stopping), settings.export_workers),
]


class Background:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(runner,), name=f"{runner.name}-{n}", daemon=True)
                        for make in RUNNERS for runner, count in [make(database, settings, self.stopping)]
                        for n in range(count)]

    def start(self) -> Background:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)

    def _loop(self, runner: Runner) -> None:
        while not self.stopping.is_set():
            try:
                busy = runner.step()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the thread
                log.exception("background %s failed; retrying", runner.name)
                busy = False
            if not busy:
                self.stopping.wait(IDLE_SECONDS)

