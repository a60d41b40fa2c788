"""What keeping decimals' text costs the JSON codec, in process (no server, no database).

``python -m benchmarks.decimal_codec --residents 300``: the district's transaction bundles go
through what a write does with JSON (parse the body, store every resource's document, read it
back, write the response) as generated, and again with every decimal ``value`` written with a
trailing zero (``66.50``: every body takes the exact parse, every document the exact read).
CPU microseconds per resource, best of five.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import click
import orjson

from fhir_server.core import jsonio
from fhir_server.demo import generate_district
from fhir_server.storage import documents

_VALUE = re.compile(rb'("value":)(\d+\.\d+)(?=[,}])')


def cost(bodies: list[bytes], resources: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for body in bodies:
            bundle = jsonio.loads(body)
            for entry in bundle["entry"]:
                documents.from_database(documents.to_sqlite(entry["resource"]))
            jsonio.dumps(bundle)
        best = min(best, time.process_time() - started)
    return best * 1e6 / resources


@click.command()
@click.option("--residents", default=300, show_default=True)
@click.option("--seed", default=20261123, show_default=True)
def main(residents: int, seed: int) -> None:
    district = generate_district(seed=seed, residents=residents, as_of=dt.date(2026, 11, 23))
    bodies = [orjson.dumps(b) for b in district.transaction_bundles(500)]
    resources = sum(len(orjson.loads(b)["entry"]) for b in bodies)
    trailing = [_VALUE.sub(rb"\g<1>\g<2>0", b) for b in bodies]
    click.echo(f"{resources} resources: as generated {cost(bodies, resources):.1f} µs/resource; "
               f"every decimal with a trailing zero {cost(trailing, resources):.1f} µs/resource")


if __name__ == "__main__":
    main()
