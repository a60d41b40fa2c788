"""The terminal table and the JSON file of a run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("case", "n", "median ms", "p95 ms", "throughput/s", "vs floor", "server CPU ms", "CPU vs floor")


def table(report: dict) -> str:
    rows = [COLUMNS]
    for r in report["results"]:
        if r.get("median_ms") is None:
            rows.append((r["name"], "", "", "", r.get("note") or "n/a", "", "", ""))
            continue
        ratio = f"{r['ratio'] * 100:.0f}% of {r['floor']}" if r.get("ratio") is not None else (
            "floor" if r.get("is_floor") else "")
        cpu = f"{r['server_cpu_ms']:.2f}" if r.get("server_cpu_ms") is not None else ""
        cpu_ratio = f"{r['cpu_ratio'] * 100:.0f}%" if r.get("cpu_ratio") is not None else ""
        rows.append((r["name"], str(r["count"]), f"{r['median_ms']:.1f}", f"{r['p95_ms']:.1f}",
                     f"{r['throughput']:.0f}", ratio, cpu, cpu_ratio))
    widths = [max(len(row[i]) for row in rows if len(row[i]) < 60) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    servers = report.get("options", {}).get("servers", 1)
    if servers > 1:
        o = report["options"]
        lines.insert(0, f"{servers} × jiayi serve ({o['workers']} workers × {o['threads']} threads each) and "
                        f"{servers} floor servers behind one database, {o['clients']} clients spread over them; "
                        "throughput/s is the combined rate, server CPU ms summed over every server")
        lines.insert(1, "")
    memory = report.get("memory", {})
    if memory:
        lines.append("")
        jiayi_peaks = ", ".join(f"{v:.0f} MB" for v in memory["jiayi_worker_peak_rss_mb"])
        floor_peaks = ", ".join(f"{v:.0f} MB" for v in memory["floor_worker_peak_rss_mb"])
        lines.append(f"peak RSS per Jiayi worker: {jiayi_peaks} (floor workers: {floor_peaks})")
        for i, peaks in enumerate(memory.get("jiayi_server_peak_rss_mb", []), 1):
            lines.append(f"  jiayi serve {i}: {', '.join(f'{v:.0f} MB' for v in peaks)}")
    errors = [r for r in report["results"] if r.get("errors")]
    for r in errors:
        lines.append(f"{r['name']}: {r['errors']} failed requests, first: {r['first_error']}")
    return "\n".join(lines)


def machine_line(report: dict) -> str:
    m = report["machine"]
    return (f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, SQLite {m['sqlite']}"
            + (f", PostgreSQL {m['postgresql']}" if m.get("postgresql") else "")
            + f"; load average {m['load_average_start'][0]:.1f} at start, "
              f"{m.get('load_average_end', [0])[0]:.1f} at end")


def write_json(report: dict, path: str | None) -> Path:
    if path is None:
        RESULTS.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = RESULTS / f"{stamp}.json"
    else:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return target


def main() -> None:
    """``python -m benchmarks.report RUN.json``: print a run's table again (for the README)."""
    import sys

    report = orjson.loads(Path(sys.argv[1]).read_bytes())
    print(table(report))
    print()
    print(machine_line(report))
    print(f"command: {report['command']}")


if __name__ == "__main__":
    main()
