"""Peak RSS of one process serving a read mix from several threads, as a gunicorn gthread worker
does (issue 19: ≤ 300 MB a worker, independent of the district's size).

    python -m benchmarks.worker_memory URL [--threads 8] [--seconds 60]

The mix is the read cases of the harness (``$everything``, a team's contracts with and without
``_include``, a patient's blood pressures, the KPI coverage and return rate, a page of Patients),
each thread on its own test client; prints the resident set after start, the peak (``VmHWM``)
after the mix, requests served and the CPU seconds spent.  Run it with ``MALLOC_ARENA_MAX=2`` in
the environment to see what glibc's per-thread arenas add.
"""

from __future__ import annotations

import random
import threading
import time

import click
from sqlalchemy import text

from fhir_server.app import create_app


def _status(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _urls(app) -> list[str]:
    repository = app.extensions["jiayi.repository"]
    with repository.unit_of_work() as uow:
        session = uow.index_session()
        patients = session.execute(text(
            "SELECT target_id FROM search_reference WHERE res_type = 'Observation' AND param = 'subject' "
            "GROUP BY target_id ORDER BY count(*) DESC LIMIT 50")).scalars().all()
        teams = session.execute(text(
            "SELECT target_id FROM search_reference WHERE res_type = 'Contract' AND param = 'care-team' "
            "GROUP BY target_id ORDER BY count(*) DESC LIMIT 5")).scalars().all()
    period = "periodStart=2026-01-01&periodEnd=2026-11-23"
    urls = [f"/fhir/Patient/{p}/$everything" for p in patients]
    urls += [f"/fhir/Observation?subject=Patient/{p}&date=ge2025-01-01&_sort=-date" for p in patients]
    urls += [f"/fhir/Contract?status=executed&care-team=CareTeam/{t}" for t in teams]
    urls += [f"/fhir/Contract?status=executed&care-team=CareTeam/{t}&_include=Contract:subject" for t in teams]
    urls += [f"/fhir/Measure/jiayi-coverage/$evaluate-measure?{period}",
             f"/fhir/Measure/jiayi-return-rate/$evaluate-measure?{period}",
             f"/fhir/Measure/jiayi-follow-up-rate/$evaluate-measure?{period}", "/fhir/Patient?_count=100"]
    return urls


@click.command(help="Peak RSS of one process serving the read mix from several threads.")
@click.argument("url")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--seconds", default=60.0, show_default=True, type=float)
def main(url: str, threads: int, seconds: float) -> None:
    app = create_app({"DATABASE_URL": url, "AUDIT": "off", "REQUEST_TIMEOUT": 0, "REQUEST_CPU_TIMEOUT": 0})
    app.test_client().get("/fhir/Patient?_count=1")
    urls = _urls(app)
    print(f"after start: {_status('VmRSS'):.0f} MB (peak {_status('VmHWM'):.0f} MB); {len(urls)} URLs", flush=True)
    served, failed = [0], [0]
    until = time.monotonic() + seconds
    cpu = time.process_time()

    def work(seed: int) -> None:
        client, rng = app.test_client(), random.Random(seed)
        while time.monotonic() < until:
            status = client.get(rng.choice(urls)).status_code
            served[0] += 1
            failed[0] += status >= 400

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(f"after {served[0]} requests ({failed[0]} failed) on {threads} threads: {_status('VmRSS'):.0f} MB, "
          f"peak {_status('VmHWM'):.0f} MB, {time.process_time() - cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
