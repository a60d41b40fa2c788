"""In-process timing of the read cases against an already loaded district (e.g. by
``benchmarks.fast_load``): the typical searches, ``$everything`` and two KPI evaluations through
the router (Flask test client, one client, no audit), with the statements per request.

    python -m benchmarks.read_probe URL [REQUESTS] [CASE ...]
    # cases: id team referrals bp include everything coverage return
"""

from __future__ import annotations

import statistics
import sys
import time

from sqlalchemy import event, text

from fhir_server.app import create_app

ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
PERIOD = "periodStart=2026-01-01&periodEnd=2026-11-23"
SAMPLES = {
    "teams": "SELECT target_id FROM search_reference WHERE res_type = 'Contract' AND param = 'care-team' "
             "GROUP BY target_id ORDER BY count(*) DESC LIMIT 20",
    "owners": "SELECT r.target_type || '/' || r.target_id FROM search_reference r JOIN search_token t "
              "ON t.res_type = 'Task' AND t.res_id = r.res_id AND t.param = 'status' AND t.code = 'requested' "
              "WHERE r.res_type = 'Task' AND r.param = 'owner' GROUP BY 1 ORDER BY count(*) DESC LIMIT 10",
    "numbers": f"SELECT code FROM search_token WHERE res_type = 'Patient' AND param = 'identifier' "
               f"AND system = '{ID_NUMBER}' LIMIT 200",
    "patients": "SELECT target_id FROM search_reference WHERE res_type = 'Observation' AND param = 'subject' "
                "GROUP BY target_id ORDER BY count(*) DESC LIMIT 100",
}


def main(url: str, requests: int, only: list[str]) -> None:
    app = create_app({"DATABASE_URL": url, "AUDIT": "off", "REQUEST_TIMEOUT": 0, "REQUEST_CPU_TIMEOUT": 0})
    engine = app.extensions["jiayi.database"].engine
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.connect() as conn:
        s = {name: [row[0] for row in conn.execute(text(sql))] or [""] for name, sql in SAMPLES.items()}
    cases = {
        "id": lambda i: f"/fhir/Patient?identifier={ID_NUMBER}|{s['numbers'][i % len(s['numbers'])]}",
        "team": lambda i: f"/fhir/Contract?status=executed&care-team=CareTeam/{s['teams'][i % len(s['teams'])]}",
        "referrals": lambda i: f"/fhir/Task?owner={s['owners'][i % len(s['owners'])]}&status=requested",
        "bp": lambda i: (f"/fhir/Observation?subject=Patient/{s['patients'][i % len(s['patients'])]}"
                         "&code=http://loinc.org|85354-9&date=ge2024-01-01&_sort=-date"),
        "include": lambda i: (f"/fhir/Contract?status=executed&care-team=CareTeam/{s['teams'][i % len(s['teams'])]}"
                              "&_include=Contract:subject"),
        "everything": lambda i: f"/fhir/Patient/{s['patients'][i % len(s['patients'])]}/$everything",
        "coverage": lambda i: f"/fhir/Measure/jiayi-coverage/$evaluate-measure?{PERIOD}",
        "return": lambda i: f"/fhir/Measure/jiayi-return-rate/$evaluate-measure?{PERIOD}",
    }
    client = app.test_client()
    for name, make in cases.items():
        if only and name not in only:
            continue
        reps = 3 if name in ("coverage", "return") else requests
        first = client.get(make(0))
        assert first.status_code == 200, first.get_data()[:500]
        times: list[float] = []
        statements.clear()
        for i in range(reps):
            started = time.perf_counter()
            response = client.get(make(i))
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(f"{name:12s} median {statistics.median(times) * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  "
              f"statements/request {len(statements) / reps:.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30, sys.argv[3:])
