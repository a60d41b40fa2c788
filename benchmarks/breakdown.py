"""Where a written resource's time goes, by phase: a pyinstrument profile's samples grouped by
the code they were in (the innermost frame of a known kind wins, so the SQL a rule runs counts
as SQL and the JSON the storage writes as JSON).

Used by ``python -m benchmarks.profile --breakdown``; the phases are the ones issue 19 asks
for: parse, schema, profile, invariants, rules, rule lookups (search built for a rule),
index extraction, SQL, JSON, the rest.
"""

from __future__ import annotations

from collections import Counter

# (phase, substrings of a frame's file path), checked in order for each frame
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQL", ("/sqlalchemy/", "/psycopg/", "/sqlite3/", "psycopg_binary")),
    ("JSON", ("/orjson", "fhir_server/core/jsonio.py", "fhir_server/storage/documents.py", "/json/")),
    ("invariants", ("fhir_server/validation/invariant", "fhir_server/validation/native_invariants",
                    "fhir_server/validation/base_invariants", "fhir_server/core/fhirpath", "/fhirpathpy/")),
    ("profile", ("fhir_server/validation/profile", "fhir_server/validation/slicing", "fhir_server/validation/bindings",
                 "fhir_server/validation/valuesets", "fhir_server/validation/extensions",
                 "fhir_server/validation/core_extensions", "fhir_server/terminology/", "fhir_server/validation/ig")),
    ("schema", ("fhir_server/validation/",)),
    ("index extraction", ("fhir_server/search/index", "fhir_server/search/params", "fhir_server/search/values",
                          "fhir_server/search/fulltext", "fhir_server/search/pinyin",
                          "fhir_server/search/expression", "fhir_server/search/sql/indexer")),
    ("rule lookups (search)", ("fhir_server/search/",)),
    ("rules", ("fhir_server/familydoctor/",)),
    ("parse", ("fhir_server/api/", "fhir_server/formats/", "fhir_server/interactions/bundles",
               "fhir_server/interactions/entries")),
)
OTHER = "other (interactions, repository, Python)"


def phase_of(path: str) -> str | None:
    path = path.replace("\\", "/")
    for phase, parts in PHASES:
        if any(part in path for part in parts):
            return phase
    return None


def breakdown(session) -> Counter[str]:
    """Seconds per phase over a pyinstrument session."""
    totals: Counter[str] = Counter()
    root = session.root_frame()
    if root is None:
        return totals
    stack = [(root, OTHER)]
    while stack:
        frame, inherited = stack.pop()
        phase = phase_of(frame.file_path or "") or inherited
        own = frame.time - sum(child.time for child in frame.children)
        if own > 0:
            totals[phase] += own
        stack.extend((child, phase) for child in frame.children)
    return totals


def table(totals: Counter[str], resources: int) -> str:
    """A Markdown table: milliseconds per resource and share of the whole, by phase."""
    whole = sum(totals.values()) or 1.0
    lines = ["| phase | ms per resource | share |", "|---|---|---|"]
    for phase in [p for p, _ in PHASES] + [OTHER]:
        seconds = totals.get(phase, 0.0)
        lines.append(f"| {phase} | {seconds * 1000 / max(resources, 1):.3f} | {seconds / whole:.0%} |")
    lines.append(f"| total | {whole * 1000 / max(resources, 1):.3f} | 100% |")
    return "\n".join(lines)


def py_spy_breakdown(path: str, within: str = "_ingest (benchmarks/profile.py",
                     outside: str = "_warm_up (benchmarks/profile.py") -> Counter[str]:
    """Samples per phase in a py-spy ``--format raw`` file (``stack count`` lines), only the
    stacks through ``within`` and not through ``outside``.  py-spy samples from outside the
    process, so unlike pyinstrument it adds no cost to small Python calls; scale its shares by
    the CPU time measured without a profiler (``python -m benchmarks.profile --plain``)."""
    totals: Counter[str] = Counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if within not in stack or outside in stack:
                continue
            phase = OTHER
            for frame in stack.split(";"):
                where = frame.rpartition(" (")[2].rstrip(")")
                phase = phase_of("/" + where) or phase
            totals[phase] += int(count)
    return totals


def scaled_table(samples: Counter[str], resources: int, cpu_ms_per_resource: float) -> str:
    """The phases' shares of ``samples`` as CPU milliseconds per resource."""
    whole = sum(samples.values()) or 1
    lines = ["| phase | CPU ms per resource | share |", "|---|---|---|"]
    for phase in [p for p, _ in PHASES] + [OTHER]:
        share = samples.get(phase, 0) / whole
        lines.append(f"| {phase} | {cpu_ms_per_resource * share:.3f} | {share:.0%} |")
    lines.append(f"| total | {cpu_ms_per_resource:.3f} | 100% ({whole} samples) |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m benchmarks.breakdown SPY.raw CPU_MS_PER_RESOURCE
    import sys

    print(scaled_table(py_spy_breakdown(sys.argv[1]), 0, float(sys.argv[2])))
