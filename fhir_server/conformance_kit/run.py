"""``jiayi conformance run``: every TestScript of a suite against a target, then the reports."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from fhir_server.conformance_kit import scripts as script_files
from fhir_server.conformance_kit.engine import Runner, now
from fhir_server.conformance_kit.html_report import html_report
from fhir_server.conformance_kit.junit import junit_xml
from fhir_server.conformance_kit.results import PASS, SKIP, ScriptResult, TestResult
from fhir_server.conformance_kit.testreport import test_report
from fhir_server.definitions import ig


def jiayi_version() -> str:
    try:
        return metadata.version("jiayi")
    except metadata.PackageNotFoundError:
        return "unknown"


def profile_validator() -> Callable[[object, str], list[str]]:
    """Jiayi's own validator: the error issues of a resource against a profile, as text."""
    from fhir_server.offline import default_validator

    validator = default_validator()

    def validate(resource: object, profile: str) -> list[str]:
        issues = validator.validate(resource, profile)
        return [f"{', '.join(i.expression) or '-'}: {i.diagnostics}" for i in issues if i.is_error]

    return validate


@dataclass
class Outcome:
    results: list[ScriptResult]
    conformant: bool
    run_id: str
    files: list[Path]


def conformant(results: list[ScriptResult]) -> bool:
    """Every mandatory TestScript passed (and at least one ran)."""
    return bool(results) and all(r.result == PASS for r in results if r.mandatory)


def run(target: str, token: str | None, suite: str, only: tuple[str, ...], lang: str, output: Path,
        echo: Callable[[str], None] = print, run_id: str | None = None) -> Outcome:
    run_id = run_id or secrets.token_hex(4)
    selected = script_files.load(suite=suite, only=only)
    if not selected:
        raise ValueError(f"no TestScript in suite '{suite}'" + (f" for {', '.join(only)}" if only else ""))
    runner = Runner(target, token, run_id, profile_validator(), lang=lang)
    total = sum(len(s.resource.get("test", [])) for s in selected)
    done = 0
    results = []
    echo(f"Jiayi conformance kit {jiayi_version()}: suite {suite}, {len(selected)} TestScript(s), {total} test(s) "
         f"against {target} (run {run_id})")

    def progress(test: TestResult) -> None:
        nonlocal done
        done += 1
        mark = {"pass": "PASS", "fail": "FAIL", SKIP: "SKIP"}.get(test.result, test.result.upper())
        first = next((f"  {a.label}: {a.message}" for a in test.failures), "")
        echo(f"[{done:>3}/{total}] {mark} {test.id}{first[:160]}")

    for script in selected:
        echo(f"== {script.id} ({script.capability}{', mandatory' if script.mandatory else ''})")
        result = runner.run(script, on_test=progress)
        if result.setup_failed:
            for a in result.setup:
                if a.result in ("fail", "error"):
                    echo(f"   setup failed: {a.label}: {a.message[:200]}")
        results.append(result)
    ok = conformant(results)
    files = write_reports(results, output, target=target, run_id=run_id, lang=lang, conformant=ok)
    passed = sum(t.result == PASS and not r.setup_failed for r in results for t in r.tests)
    echo(f"{passed}/{total} tests passed; {'CONFORMANT' if ok else 'NOT CONFORMANT'} "
         f"(every mandatory test {'passed' if ok else 'must pass'})")
    for f in files:
        echo(f"  {f}")
    return Outcome(results, ok, run_id, files)


def write_reports(results: list[ScriptResult], output: Path, *, target: str, run_id: str, lang: str,
                  conformant: bool) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    version = jiayi_version()
    files = []
    reports = output / "TestReport"
    reports.mkdir(exist_ok=True)
    for r in results:
        path = reports / f"TestReport-{r.script_id}.json"
        path.write_text(json.dumps(test_report(r, target, version, run_id), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        files.append(path)
    junit = output / "junit.xml"
    junit.write_bytes(junit_xml(results))
    html = output / "report.html"
    html.write_text(html_report(results, lang=lang, target=target, run_id=run_id, date=now(), version=version,
                                fingerprint=ig.fingerprint(), conformant=conformant), encoding="utf-8")
    return [html, junit, reports]
