"""Peak RSS and ``tracemalloc`` of one process over three KPI evaluations of a loaded district:
what a worker holds after start and after the requests, and how high its peak goes.

    python -m benchmarks.read_memory URL [--trace] [--all]

``--all``: every IG Measure (the dashboard's 13 cards) instead of three; each line also shows the
CPU ms of the evaluation and the resident set now (``VmRSS``) besides the peak (``VmHWM``).
"""

from __future__ import annotations

import gc
import resource
import sys
import time
import tracemalloc

from fhir_server.app import create_app

PERIOD = "periodStart=2026-01-01&periodEnd=2026-11-23"
MEASURES = ("jiayi-coverage", "jiayi-return-rate", "jiayi-follow-up-rate")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(url: str, trace: bool, every: bool = False) -> None:
    if trace:
        tracemalloc.start(25)
    app = create_app({"DATABASE_URL": url, "AUDIT": "off", "REQUEST_TIMEOUT": 0, "REQUEST_CPU_TIMEOUT": 0})
    client = app.test_client()
    client.get("/fhir/Patient?_count=1")
    start = tracemalloc.take_snapshot() if trace else None
    print(f"after start: peak {peak_mb():.0f} MB, now {rss_mb():.0f} MB")
    from fhir_server.familydoctor.measures import MEASURES as ALL
    for measure in [row.id for row in ALL] if every else MEASURES:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(f"/fhir/Measure/{measure}/$evaluate-measure?{PERIOD}")
        print(f"{measure}: {response.status_code} {(time.perf_counter() - started) * 1000:.0f} ms, "
              f"{(time.process_time() - cpu) * 1000:.0f} ms CPU, peak {peak_mb():.0f} MB, now {rss_mb():.0f} MB",
              flush=True)
    if start is not None:
        gc.collect()
        for stat in tracemalloc.take_snapshot().compare_to(start, "filename")[:12]:
            print(stat)
        print("traced now / peak MB", [round(x / 2**20) for x in tracemalloc.get_traced_memory()])


if __name__ == "__main__":
    main(sys.argv[1], "--trace" in sys.argv, "--all" in sys.argv)
