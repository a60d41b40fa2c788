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
    parser.add_argument("--plain", action="store_true",
                        help="No profiler: only the rates (what a before/after row compares; py-spy can attach).")
    parser.add_argument("--warm-up", type=int, default=30, metavar="RESIDENTS",
                        help="First load a district this size into a scratch SQLite file, untimed, so one-time "
                             "costs of a process (schemas compiled, terminology loaded) stay out of the numbers.")
    args = parser.parse_args()

    from fhir_server.app import create_app

    if args.warm_up:
        _warm_up(args.warm_up, args.bundle_size)
    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp(prefix='jiayi-profile-')) / 'profile.sqlite3'}"
    router = create_app({"DATABASE_URL": url}).extensions["jiayi.router"]
    bundles = list(generate_district(residents=args.residents).transaction_bundles(args.bundle_size))
    if args.plain:
        wall, cpu, done = _ingest(router, bundles)
        print(f"{done} resources: {done / wall:.0f}/s wall-clock, {done / cpu:.0f} per CPU second "
              f"({cpu * 1000 / done:.2f} CPU ms per resource, no profiler)")
        return
    from pyinstrument import Profiler
    from pyinstrument.stack_sampler import get_stack_sampler

    # sample CPU time, not wall-clock time: what other load on a shared machine distorts least
    if not args.wall:
        get_stack_sampler().timer_func = time.process_time
    profiler = Profiler(interval=args.interval)
    profiler.start()
    wall, cpu, done = _ingest(router, bundles)
    profiler.stop()
    if args.save:
        profiler.last_session.save(args.save)
    if args.breakdown:
        from benchmarks.breakdown import breakdown, table

        print(table(breakdown(profiler.last_session), done))
    else:
        print(profiler.output_text(unicode=True, color=False))
    print(f"{done} resources: {done / wall:.0f}/s wall-clock, {done / cpu:.0f} per CPU second (profiler on)")


def _warm_up(residents: int, bundle_size: int) -> None:
    from fhir_server.app import create_app

    scratch = f"sqlite:///{Path(tempfile.mkdtemp(prefix='jiayi-warm-up-')) / 'warm-up.sqlite3'}"
    _ingest(create_app({"DATABASE_URL": scratch}).extensions["jiayi.router"],
            list(generate_district(residents=residents).transaction_bundles(bundle_size)))


def _ingest(router, bundles: list[dict]) -> tuple[float, float, int]:
    """POST each transaction bundle; (wall seconds, CPU seconds, resources)."""
    from fhir_server.interactions.context import FhirRequest

    wall, cpu, done = time.perf_counter(), time.process_time(), 0
    for bundle in bundles:
        response = router.handle(FhirRequest("POST", "", body=bundle, base_url="http://localhost/fhir"))
        if response.status != 200:
            raise SystemExit(f"ingest failed: {response.resource}")
        done += len(bundle["entry"])
    return time.perf_counter() - wall, time.process_time() - cpu, done


if __name__ == "__main__":
    main()
