"""A JUnit XML file of a run for CI systems: one testsuite per TestScript, one testcase per test."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from fhir_server.conformance_kit.results import SKIP, ScriptResult


def _seconds(result: ScriptResult) -> str:
    from datetime import datetime

    try:
        span = datetime.fromisoformat(result.finished) - datetime.fromisoformat(result.started)
    except ValueError:
        return "0"
    return f"{span.total_seconds():.3f}"


def junit_xml(results: list[ScriptResult]) -> bytes:
    root = ET.Element("testsuites", name="jiayi conformance")
    for r in results:
        failures = len(r.tests) if r.setup_failed else sum(t.result == "fail" for t in r.tests)
        suite = ET.SubElement(root, "testsuite", name=r.script_id, tests=str(len(r.tests)),
                              failures=str(failures), errors="0",
                              skipped=str(0 if r.setup_failed else sum(t.result == SKIP for t in r.tests)),
                              time=_seconds(r))
        for t in r.tests:
            case = ET.SubElement(suite, "testcase", classname=f"{r.actor}.{r.capability}", name=t.id)
            if t.result == "fail" or r.setup_failed:
                messages = [f"{a.label}: {a.message}" for a in t.failures] or \
                    [f"{a.label}: {a.message}" for a in r.setup if a.result in ("fail", "error")]
                failure = ET.SubElement(case, "failure", message=(messages or ["failed"])[0][:500])
                failure.text = "\n".join(messages) + f"\n\n{t.requirement['en']}\n{t.source}"
            elif t.result == SKIP:
                ET.SubElement(case, "skipped", message="; ".join(a.message for a in t.actions)[:500])
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
