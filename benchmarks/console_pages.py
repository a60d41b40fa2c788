"""Server time of each web-console page (issue 22: target < 300 ms per page).

In-process (the Flask test client, so the time is the server's: the console's FHIR calls,
the view models and the templates; no network), signed in as the demo district's people with
development tokens, on a database holding the demo district.

    python -m benchmarks.console_pages --residents 2000            # a fresh SQLite file
    python -m benchmarks.console_pages --database sqlite:///big.db  # a district loaded already

Each page is asked ``--repeat`` times after one warm-up; median and p95 wall-clock ms and the
median CPU ms of the process (steadier than the wall clock on a shared machine) are printed.
The dashboard page lists the Measures; each card is its own request, which asks the server for
its kept summary only (``Cache-Control: max-age=300, only-if-cached``).  "First view" rows start
with no summary kept and no shared district snapshot (``familydoctor/measures/shared.py``), as
after a worker starts: the card answers 202 (正在计算…) at once, the server's thread evaluates
the Measure over the whole district (the indented "in the background" line: what the reader
waits for before the numbers show, no request does), and the page's next ask (``then``) gets the
card.  "13 cards" asks every card once in turn, as the page's browser does (median and p95 per
card, then the sum).  "Period before" is the comparison the page asks for after every card is
shown.  "After a restart" is a new process (nothing in its memory) answering from the summaries
kept in the database (``kept_measure_report``).
"After a change" rows are the same views once the district has changed: the console's cache and
the shared snapshot dropped, the server's kept summary (``Cache-Control: max-age``,
``familydoctor/measures/kept.py``) still there.  The last line is what the background refresh of
every kept summary costs after a change (no page waits for it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

from fhir_server.app import create_app
from fhir_server.auth import dev_issuer
from fhir_server.console.views import dashboard
from fhir_server.familydoctor.measures import MEASURES
from fhir_server.familydoctor.measures.kept import REFRESH_SECONDS
from fhir_server.familydoctor.measures.shared import forget
from fhir_server.serving import freeze_startup_objects, load_demo, prepare_database
from fhir_server.storage.kept_reports import KEPT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--database", default=None, help="a database with the demo district loaded already")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        database = args.database or f"sqlite:///{Path(work) / 'console.sqlite3'}"
        if args.database is None:
            prepare_database(database)
            started = time.monotonic()
            load_demo(database, residents=args.residents)
            print(f"loaded {args.residents} residents in {time.monotonic() - started:.0f} s")
        run(database, args.repeat)


def run(database: str, repeat: int) -> None:
    jwks = dev_issuer.ensure_keys(database)
    app = create_app({"DATABASE_URL": database, "AUTH_JWKS": str(jwks), "AUTH_ISSUER": dev_issuer.ISSUER})
    freeze_startup_objects()  # as each serving worker does after create_app (serving.py)
    client = app.test_client()
    kept = app.extensions["jiayi.kept_reports"]
    kept.background = False  # refreshed below, timed
    doctor = _busiest(client, database, "CareTeam?_count=1", "participant")
    patient = _first(client, database, f"Contract?status=executed&care-team=CareTeam/{doctor[1]}&_count=1",
                     lambda r: r["subject"][0]["reference"].split("/")[1])
    hospital = _first(client, database, "Task?status=requested&intent=order&_count=1",
                      lambda r: r["owner"]["reference"])
    role = _first(client, database, f"PractitionerRole?organization={hospital}&_count=1",
                  lambda r: r["practitioner"]["reference"])
    pages = [
        ("worklist (family doctor)", doctor[0], {}, "/console/worklist"),
        ("resident view", doctor[0], {}, f"/console/residents/{patient}"),
        ("search by pinyin initials", doctor[0], {}, "/console/search?q=wf"),
        ("referral desk (hospital)", role, {}, "/console/desk"),
        ("dashboard page", None, {"jiayi_region": "Organization/org-nhc"}, "/console/dashboard?preset=year"),
        ("dashboard card, first view", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/jiayi-coverage?preset=year"),
        ("dashboard card, again", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/jiayi-coverage?preset=year"),
        ("card's period before, first view", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/jiayi-coverage/previous?preset=year"),
        ("dashboard, 13 cards first view", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/{measure}?preset=year"),
        ("13 cards after a restart", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/{measure}?preset=year"),
        ("dashboard card after a change", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/jiayi-coverage?preset=year"),
        ("13 cards after a change", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/cards/{measure}?preset=year"),
        ("drill-down, subject list", None, {"jiayi_region": "Organization/org-nhc"},
         "/console/dashboard/subjects?measure=jiayi-coverage&preset=year"),
        ("integration monitor", None, {}, "/console/monitor"),
    ]
    print(f"{'page':<30} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7}  status")
    for name, fhir_user, claims, path in pages:
        _sign_in(client, database, fhir_user, claims)
        cards = "{measure}" in path
        first_view = "first view" in name
        rounds = len(MEASURES) if cards else 1 if first_view else repeat + 1
        if first_view or "after a change" in name:
            dashboard._cache.clear()
            forget()  # the district read afresh, as after a write
        if first_view and "period before" not in name:
            _no_summary_kept(kept)  # as on a new district (the period before: the card's is kept)
        if "restart" in name:
            kept._kept.clear()  # a new process: nothing in memory, the database's kept summaries there
        paths = [path.replace("{measure}", MEASURES[i].id) if cards else path for i in range(rounds)]
        timed = _ask(client, paths, warm_up=not (cards or first_view),
                     between=_changed if "after a change" in name else None)
        _row(name, timed, cards)
        if first_view:
            started, started_cpu = time.perf_counter(), time.process_time()
            evaluated = kept.refresh(wanted_only=True)
            print(f"{f'  in the background ({evaluated})':<30} {(time.perf_counter() - started) * 1000:>10.0f} "
                  f"{'':>8} {(time.process_time() - started_cpu) * 1000:>7.0f}  (no request waits for it)")
            _row("  then", _ask(client, paths, warm_up=False), cards)
    for entry in kept._kept.values():  # as after a write: every kept summary due and its data changed
        entry.stamp, entry.seen = None, entry.seen - REFRESH_SECONDS
    _no_summary_kept(kept, memory=False)  # nor counted by another process
    forget()
    started, started_cpu = time.perf_counter(), time.process_time()
    evaluated = kept.refresh()
    print(f"{f'background refresh ({evaluated} kept)':<30} {(time.perf_counter() - started) * 1000:>10.0f} {'':>8} "
          f"{(time.process_time() - started_cpu) * 1000:>7.0f}  (no page waits for it)")


def _no_summary_kept(kept, memory: bool = True) -> None:
    """No kept summary: none in this process (unless ``memory`` is False) and none in the database."""
    if memory:
        kept._kept.clear()
    with kept.store.database.session(write=True) as session:
        session.execute(delete(KEPT))


def _changed() -> None:
    """As after a write: the console's cache and the shared district snapshot dropped."""
    dashboard._cache.clear()
    forget()


def _ask(client, paths: list[str], warm_up: bool, between=None) -> tuple[list[float], list[float], list[int]]:
    """Wall-clock and CPU ms and the status of each ask (the first untimed with ``warm_up``)."""
    times, cpu, statuses = [], [], []
    for i, path in enumerate(paths):
        if between is not None:
            between()
        started, started_cpu = time.perf_counter(), time.process_time()
        status = client.get(path).status_code
        if i or not warm_up:
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            statuses.append(status)
    return times, cpu, statuses


def _row(name: str, timed: tuple[list[float], list[float], list[int]], together: bool) -> None:
    times, cpu, statuses = timed
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    shown = "/".join(str(s) for s in sorted(set(statuses)))
    print(f"{name:<30} {statistics.median(times):>10.0f} {p95:>8.0f} {statistics.median(cpu):>7.0f}  {shown}")
    if together:
        print(f"{'  (the 13 together)':<30} {sum(times):>10.0f} {'':>8} {sum(cpu):>7.0f}")


def _token(database: str, fhir_user: str | None, claims: dict) -> str:
    scope = "openid fhirUser user/*.cruds" if fhir_user else ("openid user/*.rs" if claims else "openid system/*.rs")
    body = {"sub": fhir_user or "bench", "scope": scope, "aud": "http://localhost/fhir", **claims}
    if fhir_user:
        body["fhirUser"] = fhir_user
    return dev_issuer.issue(database, body)


def _sign_in(client, database: str, fhir_user: str | None, claims: dict) -> None:
    """The session the console's sign-in leaves (the token is verified on every FHIR call)."""
    with client.session_transaction() as session:
        session["user"] = {"token": _token(database, fhir_user, claims), "fhir_user": fhir_user,
                           "region": claims.get("jiayi_region"), "name": "bench",
                           "scope": "system/*.rs" if not (fhir_user or claims) else "user/*",
                           "expires": time.time() + 3600}


def _system(client, database: str, url: str) -> list[dict]:
    token = _token(database, None, {})
    bundle = client.get(f"/fhir/{url}", headers={"Authorization": f"Bearer {token}"}).get_json()
    return [e["resource"] for e in bundle.get("entry") or []]


def _first(client, database: str, url: str, pick):
    return pick(_system(client, database, url)[0])


def _busiest(client, database: str, url: str, _param: str) -> tuple[str, str]:
    team = _system(client, database, url)[0]
    lead = next(p for p in team["participant"] if any(e.get("valueBoolean") for e in p.get("extension") or []))
    return lead["member"]["reference"], team["id"]


if __name__ == "__main__":
    main()
