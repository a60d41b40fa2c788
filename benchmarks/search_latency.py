"""Server time of the typical searches, ``$everything`` and the console's heavy searches (issue 19:
p95 ≤ 30 ms per search, ≤ 50 ms for ``$everything``, at 100k residents), in-process.

The Flask test client sends each request to the app, so the time is the server's whole answer
(parsing, the SQL, the Bundle and its JSON) without the network; values are picked from the
district already loaded (``benchmarks.fast_load`` or ``load_demo``).  The console's searches
(``Task?status=draft&owner=…``, the doctor's referral proposals; ``Contract?expiry=le…&
care-team=…&_revinclude=Contract:renews``, the contracts due) run as a team's lead doctor with a
development token, so the reach condition is in them as in the console.

    python -m benchmarks.search_latency --database sqlite:////tmp/district.sqlite3 --repeat 40
    python -m benchmarks.search_latency --database postgresql+psycopg://postgres@127.0.0.1/district

Each case cycles over up to 20 sample values after one warm-up round; median and p95 of the wall
clock and the median CPU ms of the process (steadier on a shared machine) are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from urllib.parse import quote, urlencode

from sqlalchemy import create_engine, text

from fhir_server.app import create_app
from fhir_server.auth import dev_issuer
from fhir_server.serving import freeze_startup_objects

ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
SAMPLES = 20


def _column(connection, sql: str) -> list[str]:
    return [row[0] for row in connection.execute(text(sql))]


def cases(database: str, as_of: dt.date) -> tuple[list[tuple[str, bool, list[str]]], dict[str, str]]:
    """The cases as (name, as the doctor, paths), and each sampled team's doctor; a doctor's path
    is ``<team>|<path>`` (the team says whose token to send)."""
    engine = create_engine(database)
    with engine.connect() as c:
        numbers = _column(c, f"SELECT code FROM search_token WHERE res_type = 'Patient' AND param = 'identifier' "
                             f"AND system = '{ID_NUMBER}' ORDER BY res_id LIMIT {SAMPLES}")
        teams = _column(c, "SELECT target_id FROM search_reference WHERE res_type = 'Contract' AND param = 'care-team' "
                           f"GROUP BY target_id ORDER BY count(*) DESC, target_id LIMIT {SAMPLES}")
        owners = _column(c, "SELECT r.target_type || '/' || r.target_id FROM search_reference r JOIN search_token s "
                            "ON s.res_type = 'Task' AND s.res_id = r.res_id AND s.param = 'status' "
                            "AND s.code = 'requested' WHERE r.res_type = 'Task' AND r.param = 'owner' "
                            f"GROUP BY r.target_type, r.target_id ORDER BY count(*) DESC LIMIT {SAMPLES}")
        bp = _column(c, "SELECT target_id FROM search_reference r WHERE res_type = 'Observation' "
                        "AND param = 'subject' AND EXISTS (SELECT 1 FROM search_token t WHERE "
                        "t.res_type = 'Observation' AND t.res_id = r.res_id AND t.param = 'code' "
                        "AND t.code = '85354-9') GROUP BY target_id ORDER BY count(*) DESC, target_id "
                        f"LIMIT {SAMPLES}")
        leads = {}
        for team in teams:
            found = _column(c, "SELECT target_id FROM search_reference WHERE res_type = 'CareTeam' "
                               f"AND res_id = '{team}' AND param = 'participant' AND target_type = 'Practitioner' "
                               "ORDER BY target_id LIMIT 1")
            if found:
                leads[team] = found[0]
    engine.dispose()

    def url(path: str, **params: str) -> str:
        return "/fhir/" + path + "?" + urlencode(params, safe="/:$,|", quote_via=quote)

    contracts = [url("Contract", status="executed", **{"care-team": f"CareTeam/{t}"}) for t in teams]
    due = (as_of + dt.timedelta(days=30)).isoformat()
    return [
        ("resident by ID number", False, [url("Patient", identifier=f"{ID_NUMBER}|{n}") for n in numbers]),
        ("contracts in force for a team", False, contracts),
        ("referrals waiting for a hospital", False, [url("Task", owner=o, status="requested") for o in owners]),
        ("a patient's BP since a date, sorted", False,
         [url("Observation", subject=f"Patient/{p}", code="http://loinc.org|85354-9", date=f"ge{as_of.year - 1}-01-01",
              _sort="-date") for p in bp]),
        ("contracts + _include=Contract:subject", False, [u + "&_include=Contract:subject" for u in contracts]),
        ("Patient/[id]/$everything", False, [f"/fhir/Patient/{p}/$everything" for p in bp]),
        ("doctor: referral proposals (console)", True,
         [f"{t}|" + url("Task", status="draft", code=f"{TASK_CODE}|approve", owner=f"Practitioner/{leads[t]}",
                        _count="20", _sort="-authored-on") for t in teams if t in leads]),
        ("doctor: contracts due (console)", True,
         [f"{t}|" + url("Contract", status="executed", expiry=f"le{due}", **{"care-team": f"CareTeam/{t}"},
                        _count="20", _sort="expiry", _revinclude="Contract:renews") for t in teams if t in leads]),
    ], leads


def run(database: str, repeat: int, as_of: dt.date) -> None:
    jwks = dev_issuer.ensure_keys(database)
    app = create_app({"DATABASE_URL": database, "AUTH_JWKS": str(jwks), "AUTH_ISSUER": dev_issuer.ISSUER})
    freeze_startup_objects()  # as each serving worker does after create_app (serving.py)
    client = app.test_client()
    found, leads = cases(database, as_of)
    tokens: dict[str, str] = {}

    def token(team: str) -> str:
        if team not in tokens:
            doctor = f"Practitioner/{leads[team]}"
            tokens[team] = dev_issuer.issue(database, {"sub": doctor, "fhirUser": doctor, "aud": "http://localhost/fhir",
                                                       "scope": "openid fhirUser user/*.cruds"})
        return tokens[team]

    system = dev_issuer.issue(database, {"sub": "bench", "aud": "http://localhost/fhir", "scope": "openid system/*.rs"})
    print(f"{'case':<40} {'median ms':>9} {'p95 ms':>7} {'CPU ms':>7} {'p95 CPU':>7} {'entries':>7}")
    for name, as_doctor, paths in found:
        if not paths:
            print(f"{name:<40} n/a (no sample values)")
            continue
        wall, cpu, entries = [], [], 0
        for i in range(len(paths) + max(repeat, len(paths))):
            path = paths[i % len(paths)]
            bearer = system
            if as_doctor:
                team, path = path.split("|", 1)
                bearer = token(team)
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(path, headers={"Authorization": f"Bearer {bearer}"})
            if i >= len(paths):  # the first round warms up
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            if response.status_code != 200:
                answer = response.get_data(as_text=True)[:300]
                raise SystemExit(f"{name}: {path} answered {response.status_code}: {answer}")
            entries = max(entries, len(response.get_json().get("entry") or []))
        wall.sort()
        cpu.sort()
        p95 = wall[min(len(wall) - 1, int(len(wall) * 0.95))]
        p95_cpu = cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))]
        print(f"{name:<40} {statistics.median(wall):>9.1f} {p95:>7.1f} {statistics.median(cpu):>7.1f} "
              f"{p95_cpu:>7.1f} {entries:>7}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database with a district loaded")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--as-of", default=None, help="the district's 'today' (default: the demo generator's)")
    args = parser.parse_args()
    from fhir_server.demo import DEFAULT_AS_OF

    run(args.database, args.repeat, dt.date.fromisoformat(args.as_of) if args.as_of else DEFAULT_AS_OF)


if __name__ == "__main__":
    main()
