"""The live checklist of a client suite (``jiayi conformance listen``): which tests the vendor's
system has shown so far, from the requests it made to the sandbox.

A client TestScript's test is a set of asserts on one request (``direction: request``) and on
the sandbox's answer to it (``direction: response``).  Its ``requestMethod`` and ``requestURL``
asserts, and those labelled ``when-…``, select the requests it is about; the test is shown by
the first selected request that passes all the others.  A selected request that fails them is
reported (with the reason) until a later one shows the test."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from fhir_server.conformance_kit.asserts import AssertionFailed, Observed, check
from fhir_server.conformance_kit.results import FAIL, PASS, SKIP, ActionResult, Exchange, ScriptResult, TestResult
from fhir_server.conformance_kit.scripts import Script, test_info

SELECTORS = ("requestMethod", "requestURL")
MISSING, SHOWN, FAILING = "missing", "shown", "failing"


@dataclass
class Recorded:
    """One request the vendor made and the sandbox's answer."""

    method: str
    path: str  # below the FHIR base, with the query
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes

    def exchange(self, base: str) -> Exchange:
        return Exchange(self.method, f"{base}/{self.path}", self.request_headers,
                        self.request_body.decode("utf-8", "replace") or None, self.status, self.response_headers,
                        self.response_body.decode("utf-8", "replace") or None)


def _json(data: bytes) -> object:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _selects(definition: dict) -> bool:
    return any(k in definition for k in SELECTORS) or str(definition.get("label", "")).startswith("when-")


@dataclass
class Item:
    script: Script
    test: dict
    status: str = MISSING
    message: str = ""
    results: list[ActionResult] = field(default_factory=list)

    @property
    def id(self) -> str:
        return test_info(self.test)["id"]


class Checklist:
    def __init__(self, scripts: list[Script], validate: Callable[[object, str], list[str]], base: str) -> None:
        self.scripts, self.validate, self.base = scripts, validate, base
        self.items = [Item(s, t) for s in scripts for t in s.resource.get("test", [])]

    @property
    def complete(self) -> bool:
        return all(i.status == SHOWN for i in self.items if i.script.mandatory)

    def observe(self, recorded: Recorded) -> list[Item]:
        """Checks one request against every test not yet shown; returns the items that changed."""
        request = Observed(None, recorded.request_headers, _json(recorded.request_body), recorded.method,
                           unquote(recorded.path))
        response = Observed(recorded.status, recorded.response_headers, _json(recorded.response_body),
                            recorded.method, unquote(recorded.path))
        changed = []
        for item in self.items:
            if item.status == SHOWN:
                continue
            asserts = [a["assert"] for a in item.test.get("action", []) if "assert" in a]
            if not all(self._holds(a, request, response, item.script) is None for a in asserts if _selects(a)):
                continue
            results, failure = [], None
            for a in asserts:
                problem = self._holds(a, request, response, item.script)
                label = a.get("label", "assert")
                results.append(ActionResult("assert", label, FAIL if problem else PASS, problem or "",
                                            recorded.exchange(self.base) if problem else None))
                failure = failure or (f"{label}: {problem}" if problem else None)
            item.results = results
            item.status, item.message = (FAILING, failure) if failure else (SHOWN, f"{recorded.method} {recorded.path}")
            changed.append(item)
        return changed

    def _holds(self, definition: dict, request: Observed, response: Observed, script: Script) -> str | None:
        observed = request if definition.get("direction") == "request" else response
        try:
            check(definition, observed, lambda text: text, self.validate, script.profiles)
        except AssertionFailed as error:
            return str(error)
        return None

    def lines(self, lang: str = "en") -> list[str]:
        marks = {SHOWN: "[x]", FAILING: "[!]", MISSING: "[ ]"}
        out = []
        for item in self.items:
            info = test_info(item.test, lang)
            line = f"{marks[item.status]} {item.id} {info['requirement']}"
            if item.status != MISSING:
                line += f"\n      {item.message[:200]}"
            out.append(line)
        return out

    def results(self, started: str, finished: str) -> list[ScriptResult]:
        """The checklist as script results (for the TestReports, JUnit XML and HTML report)."""
        out = []
        for script in self.scripts:
            r = script.resource
            result = ScriptResult(script.id, r.get("url", ""), {"en": script.title("en"), "zh": script.title("zh")},
                                  script.actor, script.capability, script.mandatory, started=started,
                                  finished=finished)
            for item in (i for i in self.items if i.script is script):
                en, zh = test_info(item.test, "en"), test_info(item.test, "zh")
                actions = item.results if item.status != MISSING else [
                    ActionResult("assert", "not-shown", FAIL, "the vendor's system made no such request")]
                if item.status == MISSING and not script.mandatory:
                    actions = [ActionResult("assert", "not-shown", SKIP, "not shown (optional)")]
                result.tests.append(TestResult(en["id"], item.test.get("name", en["id"]),
                                               {"en": en["requirement"], "zh": zh["requirement"]}, en["source"],
                                               actions))
            out.append(result)
        return out
