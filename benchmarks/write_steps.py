"""``python -m benchmarks.write_steps --residents 100 --creates 1000``: ``benchmarks.write_path``
with the CPU of each step of the write path measured (``time.thread_time`` around the functions
in ``STEPS``, inclusive: a nested step counts in its callers too), printed per resource for the
ingest and the creates.

Unlike a sampling profiler on a loaded machine, a CPU clock does not put the time a process
waits for a core on the syscall it was descheduled at (py-spy showed the budget's
``thread_time`` checks at 10-30% of a write and ``COMMIT`` at 17%; their CPU is under 1% and
about 17%).  Each wrapped call costs about a microsecond, so the totals are a little above
``write_path``'s.  ``WAL_PAGES=N`` in the environment sets SQLite's ``wal_autocheckpoint``.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import time
from collections import defaultdict

# (module, attribute path, label): functions timed wherever they are called from
STEPS = (
    ("fhir_server.interactions.router", "Router.handle", "Router.handle"),
    ("fhir_server.interactions.router", "Router._bundle", "Router._bundle (a transaction bundle)"),
    ("fhir_server.interactions.router", "Router.dispatch", "Router.dispatch (one interaction)"),
    ("fhir_server.interactions.router", "bundle_issues", "bundle_issues (the Bundle's own rules)"),
    ("fhir_server.interactions.transaction", "transaction", "transaction()"),
    ("fhir_server.interactions.transaction", "_Plan.rewrite", "plan.rewrite (references)"),
    ("fhir_server.interactions.transaction", "response_entry", "response_entry"),
    ("fhir_server.api.blueprint", "build_request", "build_request (body parsed)"),
    ("flask.app", "Flask.preprocess_request", "Flask before_request (principal, budget)"),
    ("flask.app", "Flask.process_response", "Flask after_request"),
    ("flask.sessions", "SecureCookieSessionInterface.open_session", "Flask open_session"),
    ("fhir_server.interactions.create", "validate_or_raise", "base R4 validation (create)"),
    ("fhir_server.interactions.update", "validate_or_raise", "base R4 validation (update)"),
    ("fhir_server.repository.sql", "SqlUnitOfWork._save", "uow._save (hooks, index, derivations)"),
    ("fhir_server.repository.base", "UnitOfWorkBase.check_write", "uow.check_write (IG hook + checks)"),
    ("fhir_server.repository.base", "UnitOfWorkBase.derive", "uow.derive (derivations, subscriptions)"),
    ("fhir_server.repository.base", "UnitOfWorkBase.run_before_commit", "uow.run_before_commit (deferred rules)"),
    ("fhir_server.repository.sql", "SqlUnitOfWork.flush", "uow.flush (buffered INSERTs)"),
    ("fhir_server.repository.sql", "SqlUnitOfWork.referring", "uow.referring (rule lookups, their flush)"),
    ("fhir_server.repository.sql", "SqlUnitOfWork.search", "uow.search (rules' searches, their flush)"),
    ("fhir_server.familydoctor.rules.contract", "check_contract_write", "rule check_contract_write"),
    ("fhir_server.search", "index_resource", "index extraction (index_resource)"),
    ("fhir_server.search.sql.indexer", "index_entries", "index_entries (parameters)"),
    ("fhir_server.search.sql.indexer", "text_entries", "text_entries (full text)"),
    ("fhir_server.search", "write_index_rows", "index INSERTs (write_index_rows)"),
    ("sqlalchemy.engine.default", "DefaultDialect.do_commit", "COMMIT"),
    ("sqlalchemy.engine.default", "DefaultDialect.do_execute", "other statements (driver)"),
)
_spent: dict[str, float] = defaultdict(float)
_calls: dict[str, int] = defaultdict(int)
_on = [False]


def _wrap(module: str, path: str, label: str) -> None:
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        if not _on[0]:
            return original(*args, **kwargs)
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _spent[label] += time.thread_time() - started
            _calls[label] += 1

    setattr(owner, name, timed)


def _wal_pages(pages: str) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _autocheckpoint(dbapi_connection, _record):
        if "sqlite" in type(dbapi_connection).__module__:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
            cursor.close()


def main() -> None:
    for step in STEPS:
        _wrap(*step)
    if os.environ.get("WAL_PAGES"):
        _wal_pages(os.environ["WAL_PAGES"])
    from benchmarks import write_path

    plain = write_path._timed

    def measured(app, requests):
        _spent.clear()
        _calls.clear()
        _on[0] = True
        started = time.thread_time()
        out = plain(app, requests)
        total = time.thread_time() - started
        _on[0] = False
        n = out[2]
        print(f"--- {n} resources, {total * 1000 / n:.3f} thread CPU ms per resource")
        for label, seconds in sorted(_spent.items(), key=lambda kv: -kv[1]):
            print(f"{seconds * 1000 / n:8.3f} ms  {seconds / total:6.1%}  calls per resource {_calls[label] / n:6.2f}"
                  f"  {label}")
        return out

    write_path._timed = measured
    write_path.main()


if __name__ == "__main__":
    sys.exit(main())
