"""``python -m benchmarks.profile --residents 500 [--database URL]``: the district's transaction
ingest in-process under pyinstrument (dev extra), to see where a write's time goes.

Prints the rate per wall-clock and per CPU second (the latter is what other load on the
machine distorts least) and pyinstrument's call tree.  SQLite by default, in a temporary file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fhir_server.demo import generate_district


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--database", default=None)
    parser.add_argument("--bundle-size", type=int, default=500)
    parser.add_argument("--breakdown", action="store_true",
                        help="Print milliseconds per resource by phase (benchmarks/breakdown.py), not the tree.")
    parser.add_argument("--save", default=None, help="Also save pyinstrument's session here (pyinstrument --load).")
    parser.add_argument("--wall", action="store_true",
                        help="Sample wall-clock time (time waiting on the database included), not CPU time.")
    parser.add_argument("--interval", type=float, default=0.001, help="Sampling interval in seconds.")
    args = parser.parse_args()
    from pyinstrument import Profiler

    from fhir_server.app import create_app
    from fhir_server.interactions.context import FhirRequest

    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp(prefix='jiayi-profile-')) / 'profile.sqlite3'}"
    router = create_app({"DATABASE_URL": url}).extensions["jiayi.router"]
    bundles = list(generate_district(residents=args.residents).transaction_bundles(args.bundle_size))
    from pyinstrument.stack_sampler import get_stack_sampler

    # sample CPU time, not wall-clock time: what other load on a shared machine distorts least
    if not args.wall:
        get_stack_sampler().timer_func = time.process_time
    profiler = Profiler(interval=args.interval)
    profiler.start()
    wall, cpu, done = time.perf_counter(), time.process_time(), 0
    for bundle in bundles:
        response = router.handle(FhirRequest("POST", "", body=bundle, base_url="http://localhost/fhir"))
        if response.status != 200:
            raise SystemExit(f"ingest failed: {response.resource}")
        done += len(bundle["entry"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    profiler.stop()
    if args.save:
        profiler.last_session.save(args.save)
    if args.breakdown:
        from benchmarks.breakdown import breakdown, table

        print(table(breakdown(profiler.last_session), done))
    else:
        print(profiler.output_text(unicode=True, color=False))
    print(f"{done} resources: {done / wall:.0f}/s wall-clock, {done / cpu:.0f} per CPU second (profiler on)")


if __name__ == "__main__":
    main()
