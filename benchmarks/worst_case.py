"""Worst-case inputs per parser (issue 18): does any parser grow faster than its input?

Every parser the fuzz suite covers (tests/fuzz) gets a few worst shapes — long runs,
alternations, nested repeats, escapes — at doubling sizes; each size is timed (median of
``--repeat`` runs, in process, a fresh SQLite file for the HTTP ones).  The table prints
milliseconds per size and the growth exponent between the two largest sizes
(``log2(t(2n) / t(n))``: about 1 is linear, 2 quadratic), so a super-linear path shows up as
a number, never as a flaky test.

    python -m benchmarks.worst_case                     # sizes 1k .. 16k units
    python -m benchmarks.worst_case --max-size 64000 --repeat 5
"""

from __future__ import annotations

import contextlib
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import orjson

ROOT = Path(__file__).resolve().parents[1]
HL7_SAMPLE = ROOT / "tests" / "data" / "hl7v2" / "cn-adt-a04.hl7"
CSV_SAMPLE = ROOT / "tests" / "data" / "publichealth" / "resident.csv"


def _http_cases(client) -> dict[str, Callable[[int], object]]:
    def post_json(body: bytes):
        return client.post("/fhir/Patient", data=body, content_type="application/fhir+json")

    def given(text: str) -> bytes:
        return orjson.dumps({"resourceType": "Patient", "name": [{"family": "张", "given": [text]}]})

    def patch(path: str):
        body = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": path},
            {"name": "value", "valueString": "x"}]}]}
        return client.patch(PATIENT[0], data=orjson.dumps(body), content_type="application/fhir+json")

    PATIENT = [client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"}).headers["Location"]
               .split("/fhir", 1)[1].split("/_history")[0]]
    PATIENT[0] = "/fhir" + PATIENT[0]
    xml_div = "<Patient xmlns='http://hl7.org/fhir'><text><status value='generated'/>" \
              "<div xmlns='http://www.w3.org/1999/xhtml'>{}</div></text></Patient>"
    return {
        "JSON body: given name of Chinese characters": lambda n: post_json(given("张三" * (n // 2))),
        "JSON body: given name of spaces then !": lambda n: post_json(given(" " * n + "!")),
        "JSON body: nested arrays (refused at depth)": lambda n: post_json(b"[" * n + b"]" * n),
        "XML body: div of <!-- runs": lambda n: client.post(
            "/fhir/Patient", data=xml_div.format("&lt;!--" * (n // 7) + "<p>x</p>").encode(),
            content_type="application/fhir+xml"),
        "XML body: nested <b> elements": lambda n: client.post(
            "/fhir/Patient", data=xml_div.format("<b>" * (n // 3) + "x" + "</b>" * (n // 3)).encode(),
            content_type="application/fhir+xml"),
        "search: name value of a,b,… alternations": lambda n: client.get(
            "/fhir/Patient", query_string={"name": "ab" * (n // 2)}),
        "search: _text of Chinese characters": lambda n: client.get(
            "/fhir/Patient", query_string={"_text": "家庭医生" * (n // 4)}),
        "search: name:pinyin of Chinese characters": lambda n: client.get(
            "/fhir/Patient", query_string={"name:pinyin": "张" * n}),
        "search: escaped separators \\,": lambda n: client.get(
            "/fhir/Patient", query_string={"identifier": "\\," * (n // 2)}),
        "FHIRPath Patch: path of nested parentheses": lambda n: patch(
            "(" * (n // 2) + "Patient.gender" + ")" * (n // 2)),
        "FHIRPath Patch: where() alternations": lambda n: patch(
            "Patient.name" + ".where(given='a' or given='b')" * max(1, n // 32)),
    }


def _adapter_cases() -> dict[str, Callable[[int], object]]:
    from adapters.hl7v2 import er7, inbound
    from adapters.hl7v2.errors import HL7Error
    from adapters.publichealth import importer

    sample = HL7_SAMPLE.read_bytes()
    csv_sample = CSV_SAMPLE.read_bytes()

    def hl7(extra: bytes):
        text = sample.replace(b"|F|", b"|F|" + extra + b"|", 1)
        with contextlib.suppress(HL7Error):
            inbound.convert(er7.parse(text)).bundle()

    def csv(data: bytes):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "records.csv"
            path.write_bytes(data)
            with contextlib.suppress(ValueError):
                importer.read_records(path, "resident")

    lines = csv_sample.splitlines(keepends=True)
    return {
        "HL7 v2: field of ~ repetitions": lambda n: hl7(b"~" * n),
        "HL7 v2: field of \\E\\ escapes": lambda n: hl7(b"\\E\\" * (n // 3)),
        "HL7 v2: component ^ and & runs": lambda n: hl7(b"^&" * (n // 2)),
        "CSV: rows of the sample": lambda n: csv(lines[0] + b"".join(lines[1:]) * max(1, n // 400)),
        "CSV: one cell of doubled quotes": lambda n: csv(lines[0] + b'"' + b'""' * (n // 2) + b'",1\n'),
        "CSV: comma runs": lambda n: csv(lines[0] + b"," * n + b"\n"),
    }


def _time(case: Callable[[int], object], size: int, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        case(size)
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def measure(sizes: list[int], repeat: int) -> list[tuple[str, list[float]]]:
    from fhir_server.app import create_app

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": f"sqlite:///{folder}/worst.sqlite3", "BASE_URL": "http://bench/fhir",
                          "REQUEST_TIMEOUT": 0})
        cases = {**_http_cases(app.test_client()), **_adapter_cases()}
        for name, case in cases.items():
            case(sizes[0])  # warm-up: caches, first imports
            rows.append((name, [_time(case, size, repeat) for size in sizes]))
        app.extensions["jiayi.database"].dispose()
    return rows


def table(sizes: list[int], rows: list[tuple[str, list[float]]]) -> str:
    head = ["case", *[f"{s:,} ms" for s in sizes], "growth"]
    body = []
    for name, times in rows:
        growth = math.log2(times[-1] / times[-2]) if times[-2] > 0.05 else 0.0
        body.append([name, *[f"{t:.1f}" for t in times], f"n^{growth:.2f}"])
    slowest = max(rows, key=lambda r: r[1][-1])
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in [head, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append(f"\nslowest at {sizes[-1]:,}: {slowest[0]} ({slowest[1][-1]:.1f} ms)")
    return "\n".join(lines)


@click.command(help="Time every parser on worst-case inputs of doubling size (issue 18).")
@click.option("--min-size", default=1000, show_default=True, type=int)
@click.option("--max-size", default=16000, show_default=True, type=int)
@click.option("--repeat", default=3, show_default=True, type=int)
def main(min_size: int, max_size: int, repeat: int) -> None:
    sizes = [min_size]
    while sizes[-1] * 2 <= max_size:
        sizes.append(sizes[-1] * 2)
    click.echo(table(sizes, measure(sizes, repeat)))


if __name__ == "__main__":
    main()
