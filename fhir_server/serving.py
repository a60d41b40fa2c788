"""Running the server: schema and demo data before the workers start, then gunicorn.

The schema is migrated once, in the parent process, so that several workers never race to
create it; the demo district is loaded the same way, through the FHIR transaction
interaction (validation and write hooks apply as for any client).
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from datetime import date

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.http import wsgi as gunicorn_wsgi

from fhir_server import demo_feed
from fhir_server.app import create_app
from fhir_server.auth import masking
from fhir_server.background import Background
from fhir_server.core.errors import FHIRError
from fhir_server.interactions import implementation_guide
from fhir_server.interactions.context import FhirRequest
from fhir_server.repository.sql import SqlRepository
from fhir_server.storage.db import Database
from fhir_server.storage.migrate import upgrade

log = logging.getLogger("jiayi.demo")
DEMO_MARKER = ("Organization", "org-nhc")  # the district health commission, loaded first


def prepare_database(url: str, demo: bool = False, residents: int = 500) -> None:
    database = Database(url)
    upgrade(database.engine)
    implementation_guide.install(SqlRepository(database))  # once, before the workers start
    database.dispose()
    if demo:
        load_demo(url, residents=residents, progress=True, skip_if_loaded=True, feed=True)


def load_demo(url: str, residents: int = 1000, seed: int = 20261123, progress: bool = False,
              skip_if_loaded: bool = False, as_of: date | None = None, feed: bool = False) -> dict[str, int]:
    """Generate the district as of ``as_of`` (default today, so contracts are current) and load it;
    ``feed``: then send the demo's sample import and HL7 v2 messages through the adapters
    (``demo_feed``), so the integration monitor has something to show."""
    # the server's own loading, in-process before it listens, not a client's: no token, no audit
    app = create_app({"DATABASE_URL": url, "AUDIT": "off", "AUTH_JWKS": None})
    try:
        return _load(app, seed, residents, progress, skip_if_loaded, as_of or date.today(), feed)
    finally:
        app.extensions["jiayi.database"].dispose()


def _load(app, seed: int, residents: int, progress: bool, skip_if_loaded: bool,
          as_of: date, feed: bool = False) -> dict[str, int]:
    from fhir_server.demo import generate_district

    router = app.extensions["jiayi.router"]
    repo = app.extensions["jiayi.repository"]
    if skip_if_loaded:
        with repo.unit_of_work() as uow:
            marker = uow.get(*DEMO_MARKER)
        if marker is not None:
            print("demo district already loaded", file=sys.stderr)
            return {}
    district = generate_district(seed=seed, residents=residents, as_of=as_of)
    started, done = time.monotonic(), 0
    for bundle in district.transaction_bundles(500):
        response = router.handle(FhirRequest("POST", "", body=bundle, base_url="http://localhost/fhir"))
        if response.status != 200:
            raise FHIRError(f"loading the demo district failed: {response.resource}")
        done += len(bundle.get("entry", []))
        if progress:
            rate = done / max(time.monotonic() - started, 1e-6)
            print(f"\rdemo: {done} resources loaded ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    # planner statistics after a bulk load: until autovacuum gets to it, PostgreSQL plans the
    # freshly filled index tables as if they were empty (a token search then filters every row)
    app.extensions["jiayi.database"].analyze()
    summary = district.summary()
    if feed:
        try:
            summary.update(demo_feed.feed(app))
        except Exception:  # noqa: BLE001 - the district is loaded; the monitor's sample traffic is a bonus
            log.exception("the demo's sample import and HL7 messages were not sent")
    return summary


# the Server header names no product version (gunicorn's default is its name; keep it ours)
gunicorn_wsgi.SERVER = "Jiayi"


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict, database: str) -> None:
        self.options = options
        self.database = database
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        limit_malloc_arenas()
        app = create_app({"DATABASE_URL": self.database, "MIGRATE_ON_START": False})
        settings = app.config["JIAYI"]
        if settings.background_thread:  # a small deployment's exports run in the serving workers
            background = Background(app.extensions["jiayi.database"], settings).start()
            atexit.register(background.stop)  # a worker that exits hands its jobs back at their checkpoints
            app.extensions["jiayi.background"] = background
        start_background(app, "http://{}/fhir".format(self.options["bind"]))
        freeze_startup_objects()
        return app


MALLOC_ARENAS = 2  # glibc's default is 8 per core: each of a worker's threads may grow its own


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """At most ``arenas`` glibc malloc arenas in this process (``mallopt(M_ARENA_MAX)``; what
    ``MALLOC_ARENA_MAX`` sets at start), called in each worker before its threads serve: with a
    per-thread arena each of the 8 threads keeps its own high-water mark (issue 19, ~30 MB of a
    worker's peak at 20,000 residents in ``benchmarks/worker_memory.py``).  No-op without glibc."""
    if not sys.platform.startswith("linux"):
        return
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl has no arenas to limit)
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX


def freeze_startup_objects() -> None:
    """Move what the worker built at start (the IG's definitions, compiled search parameters and
    profiles: ~440,000 objects) out of the cyclic garbage collector's generations (``gc.freeze``).
    They live as long as the worker, yet every full collection walked them again: measured
    120–150 ms a collection, ~40 µs a read with the audit trail on (benchmarks/README.md,
    "Audited reads after freezing the startup objects")."""
    import gc

    gc.collect()  # what start-up left behind goes now, not into the frozen generation
    gc.freeze()
    # Frozen objects no longer count as long-lived, so the collector's "a quarter more long-lived
    # objects" test passed almost every time it was asked (every 10th middle collection): a full
    # collection every ~4 heavy requests at 11-13 ms each.  Asked every 100th, it ran once in 645
    # requests, for 4% less CPU and the same peak memory (docs/decisions.md).
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


FULL_COLLECTION_EVERY = 100  # middle-generation collections between two looks at a full one (Python's default: 10)


def start_background(app, base_url: str) -> None:
    """The work a serving process does besides requests: subscription delivery (unless
    ``JIAYI_SUBSCRIPTION_DELIVERY=off``, e.g. when a separate worker runs it)."""
    notifier = app.extensions.get("jiayi.subscriptions")
    settings = app.config["JIAYI"]
    if notifier is not None and settings.subscription_delivery == "on":
        notifier.delivery.base_url = settings.base_url or base_url  # the fullUrl of Backport notifications
        notifier.delivery.start()


def run_worker(url: str, echo=print) -> None:
    """``jiayi worker``: the background work of a serving process without the HTTP side, until
    SIGTERM or Ctrl-C: the exports (:mod:`fhir_server.background`) and subscription delivery."""
    import signal

    app = create_app({"DATABASE_URL": url})
    settings = app.config["JIAYI"]
    background = Background(app.extensions["jiayi.database"], settings).start()
    start_background(app, settings.base_url or "http://localhost/fhir")
    signal.signal(signal.SIGTERM, lambda *_: background.stopping.set())
    echo(f"jiayi worker: {', '.join(t.name for t in background.threads)}"
         + (", subscription delivery" if app.extensions.get("jiayi.subscriptions") is not None
            and settings.subscription_delivery == "on" else ""))
    try:
        while not background.stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    background.stop()
    notifier = app.extensions.get("jiayi.subscriptions")
    if notifier is not None:
        notifier.delivery.stop()
    app.extensions["jiayi.database"].dispose()


def run(host: str, port: int, database: str, workers: int = 1, threads: int = 8) -> None:
    _Gunicorn(gunicorn_options(host, port, workers, threads), database).run()


def gunicorn_options(host: str, port: int, workers: int = 1, threads: int = 8) -> dict:
    """How ``jiayi serve`` runs gunicorn (the benchmark floor server uses the same settings)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "accesslog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # one per user by default: two servers would collide
        "logger_class": "fhir_server.serving.MaskedLogger",
    }


class MaskedLogger(glogging.Logger):
    """gunicorn's logs without personal data (SPEC §6): the access log's request line, query
    and referrer masked, every error-log and application message filtered (auth.masking)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in [*self.error_log.handlers, *self.access_log.handlers]:
            masking.install(handler)
        root = logging.getLogger()
        if not root.handlers:  # the application's own loggers (jiayi.*) go to stderr, masked
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
            root.addHandler(masking.install(handler))
            root.setLevel(logging.WARNING)

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = masking.mask(atoms[key])
        if atoms.get("q"):  # the bare query string: masked as the query of a URL
            atoms["q"] = masking.mask("?" + atoms["q"])[1:]
        return atoms
