"""Peak RSS and tracemalloc of one process over three KPI evaluations: ``python -m benchmarks.read_memory URL [--trace]``."""
import sys, time, resource, tracemalloc, gc
import fhir_server
print("code from", fhir_server.__file__, file=sys.stderr)
from fhir_server.app import create_app
url = sys.argv[1]
trace = "--trace" in sys.argv
if trace: tracemalloc.start(25)
app = create_app({"DATABASE_URL": url, "AUDIT": "off"})
c = app.test_client()
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
c.get("/fhir/Patient?_count=1")
if trace: s0 = tracemalloc.take_snapshot()
print(f"after start: peak {rss():.0f} MB")
for name, q in [("coverage", "/fhir/Measure/jiayi-coverage/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-11-23"),
                ("return", "/fhir/Measure/jiayi-return-rate/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-11-23"),
                ("follow-up", "/fhir/Measure/jiayi-follow-up-rate/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-11-23")]:
    t = time.perf_counter(); r = c.get(q); dt = time.perf_counter() - t
    print(f"{name}: {r.status_code} {dt*1000:.0f} ms, peak {rss():.0f} MB", flush=True)
if trace:
    gc.collect()
    s1 = tracemalloc.take_snapshot()
    for stat in s1.compare_to(s0, "filename")[:12]: print(stat)
    print("current/peak traced MB", [round(x/2**20) for x in tracemalloc.get_traced_memory()])
