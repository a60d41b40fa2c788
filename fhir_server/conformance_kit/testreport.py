"""A FHIR R4 ``TestReport`` for each TestScript run (R4 testreport.html)."""

from __future__ import annotations

from fhir_server.conformance_kit.results import ActionResult, ScriptResult

ENGINE_URI = "https://jiayi.dev/fhir/conformance-kit"


def _action(a: ActionResult) -> dict:
    part: dict = {"result": a.result}
    if a.message:
        part["message"] = f"{a.label}: {a.message}"[:10_000]
    return {"operation" if a.kind == "operation" else "assert": part}


def test_report(result: ScriptResult, target: str, version: str, run_id: str) -> dict:
    report: dict = {
        "resourceType": "TestReport", "id": f"{result.script_id}-{run_id}"[:64],
        "identifier": {"system": ENGINE_URI + "/run", "value": f"{run_id}/{result.script_id}"},
        "name": result.title["en"], "status": "completed",
        "testScript": {"reference": result.url, "display": result.script_id},
        "result": result.result, "score": round(result.score, 1),
        "tester": f"Jiayi conformance kit {version}", "issued": result.finished,
        "participant": [{"type": "test-engine", "uri": ENGINE_URI, "display": f"jiayi conformance {version}"},
                        {"type": "server", "uri": target}],
    }
    if result.setup:
        report["setup"] = {"action": [_action(a) for a in result.setup]}
    report["test"] = [{"name": t.id, "description": t.requirement["en"],
                       "action": [_action(a) for a in t.actions]} for t in result.tests if t.actions]
    teardown = [a for a in result.teardown if a.kind == "operation"]
    if teardown:
        report["teardown"] = {"action": [{"operation": _action(a)["operation"]} for a in teardown]}
    return report
