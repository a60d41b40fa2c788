"""``python -m benchmarks.write_path --residents 300 --creates 1000 [--database URL]``: the write
path end to end through the Flask app, in-process: the district's transaction bundles and single
``POST Patient`` creates as the harness sends them (JSON bytes, ``Prefer: return=minimal``),
through the WSGI app (request parsing, the router, the transaction machinery, response building),
without a socket or gunicorn.

Prints CPU milliseconds per resource for each, without a profiler (attach py-spy from outside:
``py-spy record -r 200 -f raw -o spy.raw -- python -m benchmarks.write_path ...`` and
``python -m benchmarks.breakdown spy.raw MS --within _timed``).  With ``--warm-up`` a small
district goes first into a scratch file, untimed, so that one-time costs (schemas compiled,
terminology loaded) stay out of the numbers.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import io
import tempfile
import time
from pathlib import Path

import orjson

from fhir_server.demo import generate_district

ID_NUMBER = "urn:oid:2.16.156.10011.1.1"  # benchmarks.dataset.ID_NUMBER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--database", default=None)
    parser.add_argument("--bundle-size", type=int, default=500)
    parser.add_argument("--creates", type=int, default=1000, help="Single POST Patient after the ingest.")
    parser.add_argument("--warm-up", type=int, default=30, metavar="RESIDENTS")
    parser.add_argument("--repeat", type=int, default=1, help="Creates: rounds of --creates each, best reported.")
    args = parser.parse_args()

    if args.warm_up:
        scratch = f"sqlite:///{Path(tempfile.mkdtemp(prefix='jiayi-warm-up-')) / 'warm-up.sqlite3'}"
        app = _app(scratch)
        bundles = _bodies(args.warm_up, args.bundle_size)
        _warm(app, bundles + _creates(bundles, 50))
    url = args.database or f"sqlite:///{Path(tempfile.mkdtemp(prefix='jiayi-write-')) / 'write.sqlite3'}"
    app = _app(url)
    bundles = _bodies(args.residents, args.bundle_size)
    cpu, wall, done = _ingest(app, bundles)
    print(f"ingest: {done} resources, {cpu * 1000 / done:.3f} CPU ms per resource "
          f"({done / cpu:.0f} per CPU second; {done / wall:.0f}/s wall-clock)", flush=True)
    if args.creates:
        creates = _creates(bundles, args.creates)
        best = None
        for _ in range(args.repeat):
            cpu, wall, done = _create(app, creates)
            best = cpu if best is None else min(best, cpu)
            print(f"create Patient: {done}, {cpu * 1000 / done:.3f} CPU ms each "
                  f"({done / cpu:.0f} per CPU second; {done / wall:.0f}/s wall-clock)", flush=True)
            creates = _creates(bundles, args.creates, offset=done * (_ + 1))


def _app(url: str):
    from fhir_server.app import create_app

    return create_app({"DATABASE_URL": url})


def _bodies(residents: int, bundle_size: int) -> list[tuple[str, str, bytes, int]]:
    """(method, path, body, resources) per transaction bundle."""
    return [("POST", "", orjson.dumps(b), len(b["entry"]))
            for b in generate_district(residents=residents).transaction_bundles(bundle_size)]


def _creates(bundles: list[tuple[str, str, bytes, int]], count: int, offset: int = 0):
    """``POST Patient`` bodies like ``benchmarks.cases.create_patient``: a resident of the district
    with a new ID number (no id, Prefer: return=minimal)."""
    from fhir_server.core.national_ids import make_id

    patients = [e["resource"] for b in bundles[:3] for e in orjson.loads(b[2])["entry"]
                if e["resource"]["resourceType"] == "Patient"]
    out = []
    for i in range(offset, offset + count):
        body = copy.deepcopy(patients[i % len(patients)])
        body.pop("id", None)
        serial = i + 1
        born = dt.date(1940, 1, 1) + dt.timedelta(days=serial % 20000)
        number = make_id("990199", born, 400 + (serial // 20000) % 99, body.get("gender", "male"))
        body["identifier"] = [{"use": "official", "system": ID_NUMBER, "value": number}]
        body["birthDate"] = born.isoformat()
        out.append(("POST", "Patient", orjson.dumps(body), 1))
    return out


def _environ(method: str, path: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": f"/fhir/{path}", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080",
        "CONTENT_TYPE": "application/fhir+json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_ACCEPT": "application/fhir+json", "HTTP_PREFER": "return=minimal",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


# three names for one loop, so that a py-spy profile tells the warm-up, the ingest and the creates apart
def _warm(app, requests):
    return _timed(app, requests)


def _ingest(app, requests):
    return _timed(app, requests)


def _create(app, requests):
    return _timed(app, requests)


def _timed(app, requests: list[tuple[str, str, bytes, int]]) -> tuple[float, float, int]:
    """Each request through the WSGI app; (CPU seconds, wall seconds, resources)."""
    environs = [(_environ(method, path, body), n) for method, path, body, n in requests]
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    wall, cpu, done = time.perf_counter(), time.process_time(), 0
    for environ, n in environs:
        out = app.wsgi_app(environ, start_response)
        body = b"".join(out)
        if hasattr(out, "close"):
            out.close()
        if not statuses[-1].startswith(("200", "201")):
            raise SystemExit(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}: {statuses[-1]} {body[:2000]!r}")
        done += n
    return time.process_time() - cpu, time.perf_counter() - wall, done


if __name__ == "__main__":
    main()
