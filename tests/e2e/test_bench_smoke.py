"""The benchmark harness at a tiny size, so it cannot rot (SPEC §8; the numbers are not checked:
timings are never asserted in tests).  Runs once on SQLite (one server) and once on PostgreSQL with
two ``jiayi serve`` processes behind the one database (``--servers 2``) and the district's first
resources preloaded in-process (``--preload``)."""

from __future__ import annotations

import orjson
import pytest

from benchmarks.report import table, write_json
from benchmarks.run import Options, run

pytestmark = pytest.mark.e2e
PRELOAD = 150  # resources: two bundles of 100 go in without HTTP, the rest through the server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def report(request, tmp_path_factory) -> dict:
    database = "sqlite" if request.param == "sqlite" else request.getfixturevalue("postgres_server_url")
    options = Options(database=database, residents=20, clients=2, workers=1, threads=2, requests=6, seconds=5,
                      bundle_size=100, adapter_residents=5, adapter_messages=5,
                      workdir=str(tmp_path_factory.mktemp(f"bench-{request.param}")),
                      servers=1 if request.param == "sqlite" else 2,
                      preload=0 if request.param == "sqlite" else PRELOAD)
    return run(options, echo=lambda line: None)


def by_name(report: dict) -> dict[str, dict]:
    return {r["name"]: r for r in report["results"]}


def test_every_case_has_a_row_and_measured_ones_have_numbers(report):
    rows = by_name(report)
    for name in ("transaction ingest (resources/s)", "floor: bulk INSERT (rows/s)", "read Patient/[id]",
                 "create Patient", "update Patient", "search resident by ID number",
                 "floor: bare Flask+SQLAlchemy read", "validate base R4 (resources/s)"):
        row = rows[name]
        assert row["errors"] == 0, row
        assert row["count"] > 0 and row["median_ms"] <= row["p95_ms"] and row["throughput"] > 0, row
    assert rows["read Patient/[id]"]["ratio"] > 0
    # CPU is read in clock ticks (10 ms): a handful of requests can round to 0 ms, on either server,
    # and then no CPU ratio is given; measured it always is
    assert rows["read Patient/[id]"]["server_cpu_ms"] is not None
    assert rows["floor: bare Flask+SQLAlchemy read"]["server_cpu_ms"] is not None
    if rows["floor: bare Flask+SQLAlchemy read"]["server_cpu_ms"] and rows["read Patient/[id]"]["server_cpu_ms"]:
        assert rows["read Patient/[id]"]["cpu_ratio"] > 0
    assert rows["transaction ingest (resources/s)"]["ratio"] > 0
    assert "Patient/[id]/$everything" in rows  # measured, or kept as "n/a (not available)"
    assert rows["public-health import (jiayi import, rows/s)"]["adapter"]["residents"] == 5
    assert rows["HL7 v2 ADT over MLLP (messages/s)"]["adapter"]["acknowledged"] == 5
    assert rows["HL7 v2 ORU over MLLP (messages/s)"]["adapter"]["acknowledged"] == 5
    assert "KPI $evaluate-measure coverage (whole district)" in rows
    assert sum(report["dataset"].values()) > 20


def test_ingest_loaded_the_whole_district(report):
    resources = sum(report["dataset"].values())
    preloaded = report.get("preloaded", 0)
    assert preloaded == (200 if report["options"]["preload"] else 0)  # to the end of the bundle passing --preload
    assert by_name(report)["transaction ingest (resources/s)"]["units"] == resources - preloaded > 0
    assert by_name(report)["floor: bulk INSERT (rows/s)"]["units"] == resources


def test_table_json_and_memory(report, tmp_path):
    text = table(report)
    assert "read Patient/[id]" in text and "peak RSS per Jiayi worker" in text
    rss = report["memory"]["jiayi_worker_peak_rss_mb"]
    assert rss and all(v > 0 for v in rss)
    path = write_json(report, str(tmp_path / "run.json"))
    assert orjson.loads(path.read_bytes())["machine"]["nproc"] >= 1


def test_several_servers_each_have_their_workers_and_the_table_says_so(report):
    servers = report["options"]["servers"]
    memory = report["memory"]
    if servers == 1:
        assert "jiayi_server_peak_rss_mb" not in memory and "jiayi serve 1:" not in table(report)
        return
    per_server = memory["jiayi_server_peak_rss_mb"]
    assert len(per_server) == servers and all(len(peaks) == 1 and peaks[0] > 0 for peaks in per_server)
    assert sorted(memory["jiayi_worker_peak_rss_mb"]) == sorted(v for peaks in per_server for v in peaks)
    text = table(report)
    assert text.startswith(f"{servers} × jiayi serve") and f"jiayi serve {servers}:" in text
    assert "2 clients, one per server" in by_name(report)["transaction ingest (resources/s)"]["note"]


def test_several_servers_need_postgresql(tmp_path):
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        run(Options(database="sqlite", servers=2, workdir=str(tmp_path)), echo=lambda line: None)
