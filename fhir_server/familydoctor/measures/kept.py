"""Whole-district MeasureReports kept for callers that accept an older answer (issue 22).

A summary over the whole district reads every resident and contract in force: 1–4 s at 100,000
residents, and any write in the district makes the next one read it all again.  A dashboard's
card cannot wait that long on every view, and its reader does not need the numbers of this very
second.  So a caller that sends ``Cache-Control: max-age=N`` with ``$evaluate-measure`` (the
console's dashboard sends its own cache time, 300 s) gets a summary evaluated at most N seconds
ago for the same Measure, period, resident population and reach, when one is kept.  Its ``date``
says when it was evaluated and the response's ``Age`` header how many seconds ago the data were
last seen unchanged.  Without the header (every other client) each evaluation is fresh, as before.

While a kept report is asked for, a background thread brings it up to date every
:data:`REFRESH_SECONDS` (or less often: it refreshes at most a tenth of the time).  When the
district's data changed since (the stamp of :mod:`.shared`), it evaluates the report again;
otherwise it only notes the data unchanged.  A dashboard's card after a change is thus answered
from the last evaluation, done outside any request.  A report no one asked for in
:data:`ASKED_WITHIN` seconds is not refreshed and is dropped once older than any caller accepts.

A caller that also sends ``only-if-cached`` (RFC 9111 §5.2.1.7; the console's dashboard does) is
never made to wait for a whole-district evaluation: when no kept summary is young enough, it is
answered ``504`` with ``Retry-After`` at once, and the thread evaluates the summary now, ahead of
any refresh, so that the caller's next ask finds it.  Without ``only-if-cached`` a summary not yet
kept is evaluated in the request, as before.

Each serving process keeps the reports it was asked for in memory (they are small: a summary has a
few hundred strata), and every evaluation is also written to the database (``kept_measure_report``,
:mod:`fhir_server.storage.kept_reports`) with the stamp of the data it counted.  A process that has
no report young enough in memory looks there before evaluating: a summary another worker evaluated,
or one evaluated before a restart, is answered from there, and a refresh whose data another worker
already counted adopts that worker's report instead of evaluating it again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fhir_server.auth.access import Reach
from fhir_server.core.errors import FHIRError, Issue
from fhir_server.repository.base import Repository
from fhir_server.storage.kept_reports import KeptStore, Stored

from .catalog import MeasureRow
from .shared import data_stamp
from .snapshot import Period

log = logging.getLogger("jiayi.measures")

REFRESH_SECONDS = 60.0  # a kept report asked for is brought up to date this often
ASKED_WITHIN = 900.0  # ... while someone asked for it this recently
CHECK_SECONDS = 10.0  # how often the thread looks for kept reports due
BUSY_SHARE = 0.1  # at most this share of the time spent refreshing (each serving worker)
KEPT = 128  # reports kept per process (13 Measures × a few periods × a few reaches)
RETRY_SECONDS = 2  # Retry-After of a summary asked with only-if-cached and being evaluated
STORED_FOR = 86_400.0  # a stored summary whose data no one has seen for this long is dropped


@dataclass(frozen=True, slots=True)
class Key:
    measure: str  # the Measure's canonical URL
    period: Period
    resident_population: int | None
    reach: Reach | None

    def stored_key(self) -> str:
        """The key of its row in ``kept_measure_report`` (the same in every process)."""
        text = repr((self.measure, str(self.period.start), str(self.period.end), self.resident_population,
                     self.reach))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(slots=True)
class _Kept:
    report: dict | None  # None: not yet evaluated
    stamp: str | None  # the district's data the report was evaluated on (None: not known)
    seen: float  # monotonic time the data were last seen as the report counted them
    asked: float  # monotonic time a caller last asked for it
    row: MeasureRow
    wanted: bool = False  # asked with only-if-cached and not young enough: brought up to date next


Evaluate = Callable[..., dict]  # (uow, row, period, *, resident_population, reach) -> MeasureReport


class KeptReports:
    """The kept summaries of one repository (database), and the thread that refreshes them."""

    def __init__(self, repository: Repository, evaluate: Evaluate, *, refresh_seconds: float = REFRESH_SECONDS,
                 thread: bool = True, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.repository, self.evaluate = repository, evaluate
        self.refresh_seconds, self.clock, self.wall = refresh_seconds, clock, wall
        database = getattr(repository, "database", None)  # the memory twin has none: kept in memory only
        self.store: KeptStore | None = KeptStore(database) if database is not None else None
        self.background = thread  # False: refreshed only when refresh() is called (tests)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wanted = threading.Event()  # a summary was asked for that is not kept: evaluate it now
        self._kept: OrderedDict[Key, _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh pass at a time

    def answer(self, uow, row: MeasureRow, period: Period, *, resident_population: int | None,
               reach: Reach | None, max_age: float) -> tuple[dict, float]:
        """The summary of ``row`` over ``period`` and its age in seconds: a kept one at most
        ``max_age`` seconds old, else evaluated now in ``uow`` (and kept)."""
        key = Key(row.url, period, resident_population, reach)
        hit = self._hit(key, row, max_age)
        if hit is not None:
            return hit
        now = self.clock()
        stamp = _stamp_of(uow)
        report = self.evaluate(uow, row, period, resident_population=resident_population, reach=reach)
        self._keep(key, _Kept(report, stamp, now, now, row))
        self._store(key, report, stamp)
        self._start()
        return report, 0.0

    def kept_only(self, row: MeasureRow, period: Period, *, resident_population: int | None,
                  reach: Reach | None, max_age: float) -> tuple[dict, float] | None:
        """The kept summary at most ``max_age`` seconds old and its age, or None: then it is
        wanted, and the thread evaluates it next (``only-if-cached``: the caller asks again)."""
        key = Key(row.url, period, resident_population, reach)
        hit = self._hit(key, row, max_age)
        if hit is not None:
            return hit
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
            young = self._young(key, kept, now, max_age)
            if young is not None:  # evaluated by the thread since the look above: not wanted again
                return young
            if kept is None:
                kept = self._kept[key] = _Kept(None, None, float("-inf"), now, row)
            kept.asked, kept.wanted = now, True
            self._kept.move_to_end(key)
            self._trim()
        self._wanted.set()
        self._start()
        return None

    def _hit(self, key: Key, row: MeasureRow, max_age: float) -> tuple[dict, float] | None:
        """A report at most ``max_age`` seconds old, kept in this process or else in the database."""
        now = self.clock()
        with self._lock:
            young = self._young(key, self._kept.get(key), now, max_age)
        if young is not None:
            return young
        stored = self.store.read(key.stored_key()) if self.store is not None else None
        age = float("inf") if stored is None else max(0.0, self.wall() - stored.seen)
        if stored is None or age > max_age:
            return None
        with self._lock:
            self._kept[key] = _Kept(stored.report, stored.stamp, now - age, now, row)
            self._kept.move_to_end(key)
            self._trim()
        self._start()  # kept here now: refreshed while asked for
        return stored.report, age

    def _young(self, key: Key, kept: _Kept | None, now: float, max_age: float) -> tuple[dict, float] | None:
        """``kept``'s report and age when at most ``max_age`` seconds old (noted as asked); under the lock."""
        if kept is None or kept.report is None or now - kept.seen > max_age:
            return None
        kept.asked = now
        self._kept.move_to_end(key)
        return kept.report, max(0.0, now - kept.seen)

    def refresh(self, wanted_only: bool = False) -> int:
        """Bring every kept report asked for lately up to date, the wanted ones (asked for and
        not yet evaluated) first; with ``wanted_only``, those only.  The number evaluated."""
        with self._refreshing:
            now = self.clock()
            with self._lock:
                for key in [k for k, kept in self._kept.items() if now - kept.asked > ASKED_WITHIN]:
                    del self._kept[key]  # no one looks at it: not refreshed, and no longer answered
                due = [(k, kept) for k, kept in self._kept.items()
                       if kept.wanted or (not wanted_only and now - kept.seen >= self.refresh_seconds)]
            if not due:
                return 0
            due.sort(key=lambda item: not item[1].wanted)  # the wanted first: someone waits for them
            evaluated = 0
            with self.repository.unit_of_work() as uow:
                stamp = _stamp_of(uow)
                if self.store is not None and not wanted_only:  # not while someone waits
                    self.store.prune(self.wall() - STORED_FOR)
                for key, kept in due:
                    current = self._counted(key, kept, stamp)
                    if current is not None:  # the data are as this report counted them: noted, not evaluated
                        with self._lock:
                            if self._kept.get(key) is kept:
                                self._kept[key] = _Kept(current, stamp, now, kept.asked, kept.row)
                        continue
                    try:
                        report = self.evaluate(uow, kept.row, key.period,
                                               resident_population=key.resident_population, reach=key.reach)
                    except Exception:  # noqa: BLE001 - logged; the next ask wants it again
                        log.exception("evaluating the kept %s over %s failed", key.measure, key.period)
                        with self._lock:
                            if self._kept.get(key) is kept:
                                kept.wanted = False
                                if kept.report is None:
                                    del self._kept[key]
                        continue
                    evaluated += 1
                    with self._lock:
                        if self._kept.get(key) is kept:  # not dropped meanwhile
                            self._kept[key] = _Kept(report, stamp, now, kept.asked, kept.row)
                    self._store(key, report, stamp)
            return evaluated

    def _counted(self, key: Key, kept: _Kept, stamp: str | None) -> dict | None:
        """A report that counted the data of ``stamp``: this process's, or one another process
        stored; its row is marked as seen now.  None: the data changed since (evaluate again)."""
        if stamp is None:
            return None
        current = kept.report if kept.report is not None and kept.stamp == stamp else None
        if current is None and self.store is not None:
            stored = self.store.read(key.stored_key())
            current = stored.report if stored is not None and stored.stamp == stamp else None
        if current is not None and self.store is not None:
            self.store.seen(key.stored_key(), stamp, self.wall())
        return current

    def _store(self, key: Key, report: dict, stamp: str | None) -> None:
        if self.store is not None:
            self.store.write(key.stored_key(), Stored(report, stamp, self.wall()))

    def _keep(self, key: Key, kept: _Kept) -> None:
        with self._lock:
            self._kept[key] = kept
            self._kept.move_to_end(key)
            self._trim()

    def _trim(self) -> None:
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)

    def _start(self) -> None:
        if not self.background or self._thread is not None:
            return
        with self._lock:
            if self._thread is None:  # started by the first kept answer: after a serving worker forks
                self._thread = threading.Thread(target=self._loop, name="measure-refresh", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the refresh thread (after its pass, if one is running)."""
        self._stopping.set()
        self._wanted.set()

    def _loop(self) -> None:
        least = min(self.refresh_seconds, CHECK_SECONDS)
        next_pass = time.monotonic() + least
        while True:
            wanted = self._wanted.wait(max(0.0, next_pass - time.monotonic()))
            if self._stopping.is_set():
                return
            self._wanted.clear()
            started = time.monotonic()
            try:  # wanted reports at once (someone waits); a refresh of the rest when its pause is over
                evaluated = self.refresh(wanted_only=wanted and started < next_pass)
                if evaluated:
                    log.info("evaluated %d kept MeasureReports in %.1f s", evaluated, time.monotonic() - started)
            except Exception:  # noqa: BLE001 - the next pass tries again; requests evaluate meanwhile
                log.exception("refreshing the kept MeasureReports failed")
            if not wanted or started >= next_pass:
                next_pass = time.monotonic() + rest_after(time.monotonic() - started, least)


class NotKept(FHIRError):
    """504 (RFC 9111 §5.2.1.7): asked with ``only-if-cached``, and no kept summary young enough."""

    status = 504

    def __init__(self) -> None:
        super().__init__([Issue("transient", "No summary evaluated recently enough is kept (Cache-Control: "
                                f"only-if-cached); it is being evaluated now: ask again in {RETRY_SECONDS} s")],
                         headers={"Retry-After": str(RETRY_SECONDS)})


def rest_after(busy: float, least: float) -> float:
    """Seconds to wait after a refresh pass that took ``busy``: the thread refreshes at most
    :data:`BUSY_SHARE` of the time (the 13 cards and their periods before are ~25 s of work at
    100,000 residents on PostgreSQL: a pass then waits ~4 minutes, within the console's 300 s)."""
    return max(least, busy * (1 - BUSY_SHARE) / BUSY_SHARE)


def _stamp_of(uow) -> str | None:
    """The stamp of the district's data as :mod:`.shared` reads it, as text (None: not a database)."""
    index_session = getattr(uow, "index_session", None)
    return None if index_session is None else repr(data_stamp(index_session()))


def age_header(age: float) -> dict[str, str]:
    """The response's ``Age`` (RFC 9111 §5.1), whole seconds."""
    return {"Age": str(int(age))}

