"""In-process timing of the read cases against an already loaded district (e.g. by
``benchmarks.fast_load``): the typical searches, ``$everything`` and two KPI evaluations through
the router (Flask test client, one client, no audit), with statements per request.

    python -m benchmarks.read_probe URL [REQUESTS] [CASE ...]   # cases: id team referrals bp include
                                                                #        everything coverage return
"""
import sys, time, statistics, random
from sqlalchemy import event
from fhir_server.app import create_app

url = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
only = sys.argv[3:] 
app = create_app({"DATABASE_URL": url, "AUDIT": "off", "REQUEST_TIMEOUT": 0, "REQUEST_CPU_TIMEOUT": 0})
engine = app.extensions["jiayi.database"].engine
stmts = []
event.listen(engine, "before_cursor_execute", lambda *a: stmts.append(a[2][:300]))
c = app.test_client()
from sqlalchemy import text
with engine.connect() as conn:
    teams = [r[0] for r in conn.execute(text("select target_id, count(*) from search_reference where res_type='Contract' and param='care-team' group by 1 order by 2 desc limit 20"))]
    orgs = [r[0] for r in conn.execute(text("select r.target_type||'/'||r.target_id from search_reference r join search_token t on t.res_type='Task' and t.res_id=r.res_id and t.param='status' and t.code='requested' where r.res_type='Task' and r.param='owner' group by 1 order by count(*) desc limit 10"))]
    idn = [r[0] for r in conn.execute(text("select code from search_token where res_type='Patient' and param='identifier' and system='urn:oid:2.16.156.10011.1.3' limit 200"))]
    bp = [r[0] for r in conn.execute(text("select target_id from search_reference where res_type='Observation' and param='subject' group by 1 order by count(*) desc limit 100"))]
cases = {
 "id": lambda i: f"/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3|{idn[i % len(idn)]}",
 "team": lambda i: f"/fhir/Contract?status=executed&care-team=CareTeam/{teams[i % len(teams)]}",
 "referrals": lambda i: f"/fhir/Task?owner={orgs[i % len(orgs)]}&status=requested",
 "bp": lambda i: f"/fhir/Observation?subject=Patient/{bp[i % len(bp)]}&code=http://loinc.org|85354-9&date=ge2024-01-01&_sort=-date",
 "include": lambda i: f"/fhir/Contract?status=executed&care-team=CareTeam/{teams[i % len(teams)]}&_include=Contract:subject",
 "everything": lambda i: f"/fhir/Patient/{bp[i % len(bp)]}/$everything",
 "coverage": lambda i: "/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-11-23",
 "return": lambda i: "/fhir/Measure/jiayi-return-rate/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-11-23",
}
for name, make in cases.items():
    if only and name not in only: continue
    reps = n if name not in ("coverage", "return") else 3
    r = c.get(make(0)); assert r.status_code == 200, r.get_data()[:500]
    times = []; stmts.clear()
    for i in range(reps):
        t = time.perf_counter(); r = c.get(make(i)); times.append(time.perf_counter() - t)
        assert r.status_code == 200
    times.sort()
    print(f"{name:12s} median {statistics.median(times)*1000:7.1f} ms  p95 {times[int(len(times)*0.95)-1]*1000 if len(times)>1 else times[0]*1000:7.1f} ms  stmts/req {len(stmts)/reps:.1f}  entries {len(r.get_json().get('entry', []))}", flush=True)
