"""The TestScript engine: runs one R4 TestScript against a FHIR server over HTTP.

Fixtures (``autocreate`` ones are created first and take the server's answer, ``autodelete``
ones are deleted last), variables (``expression`` or ``headerField`` on a fixture or a response,
``defaultValue``; ``${runId}`` is new for each run), operations (capabilities, read, search,
create, update, delete, transaction, batch and named operations by ``url``) and asserts
(:mod:`.asserts`).  A failed assert ends its test (later actions depend on earlier ones); a
failed setup fails every test; the teardown always runs.  Everything the kit creates carries the
tag ``RUN_TAG_SYSTEM|<runId>`` so a vendor can purge what a crashed run left.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import requests

from fhir_server.conformance_kit.asserts import AssertionFailed, Observed, check
from fhir_server.conformance_kit.results import (
    ERROR,
    FAIL,
    PASS,
    SKIP,
    WARNING,
    ActionResult,
    Exchange,
    ScriptResult,
    TestResult,
    clipped,
    masked,
)
from fhir_server.conformance_kit.scripts import Script, test_info
from fhir_server.core import fhirpath

RUN_TAG_SYSTEM = "https://jiayi.dev/fhir/CodeSystem/conformance-run"
FHIR_JSON = "application/fhir+json"
TIMEOUT = 60
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
Validate = Callable[[object, str], list[str]]


class ActionError(Exception):
    """An operation could not be made (a variable without a value, a missing fixture)."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Response:
    def __init__(self, status: int | None, headers: dict[str, str], text: str | None,
                 exchange: Exchange | None = None) -> None:
        self.status, self.headers, self.text, self.exchange = status, headers, text, exchange
        try:
            self.body: object = json.loads(text) if text else None
        except ValueError:
            self.body = None


class Runner:
    """Runs TestScripts against ``base`` (…/fhir) with an optional bearer token."""

    def __init__(self, base: str, token: str | None, run_id: str, validate: Validate,
                 session: requests.Session | None = None, lang: str = "en") -> None:
        self.base, self.token, self.run_id, self.validate = base.rstrip("/"), token, run_id, validate
        self.session = session or requests.Session()
        self.lang = lang

    # --- one script ------------------------------------------------------------------------------

    def run(self, script: Script, on_test: Callable[[TestResult], None] | None = None) -> ScriptResult:
        r = script.resource
        state = _State(script, self.run_id)
        result = ScriptResult(script.id, r.get("url", ""), {"en": script.title("en"), "zh": script.title("zh")},
                              script.actor, script.capability, script.mandatory, started=now())
        for fixture in r.get("fixture", []):
            if fixture.get("autocreate"):
                created = self._autocreate(state, fixture["id"])
                result.setup.append(created)
                if created.result != PASS:
                    break
        if not result.setup_failed:
            self._actions(state, (r.get("setup") or {}).get("action", []), result.setup)
        for test in r.get("test", []):
            info = test_info(test, "en")
            requirement = {"en": info["requirement"], "zh": test_info(test, "zh")["requirement"]}
            outcome = TestResult(info["id"], test.get("name", info["id"]), requirement, info["source"])
            if result.setup_failed:
                outcome.actions.append(ActionResult("assert", "setup", SKIP, "not run: the setup failed"))
            else:
                self._actions(state, test.get("action", []), outcome.actions)
            result.tests.append(outcome)
            if on_test:
                on_test(outcome)
        self._actions(state, (r.get("teardown") or {}).get("action", []), result.teardown, stop_on_failure=False)
        for fixture in reversed(r.get("fixture", [])):
            if fixture.get("autodelete") and fixture["id"] in state.created:
                result.teardown.append(self._delete(state, state.created[fixture["id"]], f"delete-{fixture['id']}"))
        result.finished = now()
        return result

    def _actions(self, state: _State, actions: list[dict], out: list[ActionResult],
                 stop_on_failure: bool = True) -> None:
        for action in actions:
            if "operation" in action:
                outcome = self._operation(state, action["operation"])
            else:
                outcome = self._assert(state, action["assert"])
            out.append(outcome)
            if stop_on_failure and outcome.result in (FAIL, ERROR):
                remaining = len(actions) - actions.index(action) - 1
                if remaining:
                    out.append(ActionResult("assert", "…", SKIP, f"{remaining} later action(s) not run"))
                return

    # --- operations ------------------------------------------------------------------------------

    def _autocreate(self, state: _State, fixture_id: str) -> ActionResult:
        try:
            body = state.body(fixture_id)
        except ActionError as error:
            return ActionResult("operation", f"create-{fixture_id}", ERROR, str(error))
        kind = body.get("resourceType", "")
        exchange, response = self._send(state, "POST", kind, body)
        if response.status == 201 and isinstance(response.body, dict) and response.body.get("id"):
            state.fixtures[fixture_id] = response
            state.created[fixture_id] = f"{kind}/{response.body['id']}"
            return ActionResult("operation", f"create-{fixture_id}", PASS, f"{kind}/{response.body['id']}", exchange)
        return ActionResult("operation", f"create-{fixture_id}", FAIL,
                            f"creating fixture {fixture_id} ({kind}) gave HTTP {response.status}", exchange)

    def _operation(self, state: _State, op: dict) -> ActionResult:
        label = op.get("label") or op.get("type", {}).get("code", "operation")
        try:
            method, url, body = self._request_of(state, op)
        except ActionError as error:
            return ActionResult("operation", label, ERROR, str(error))
        headers = {h["field"]: state.substitute(h["value"]) for h in op.get("requestHeader", [])}
        exchange, response = self._send(state, method, url, body, headers)
        state.last = response
        if op.get("responseId"):
            state.fixtures[op["responseId"]] = response
        if exchange.error:
            return ActionResult("operation", label, ERROR, exchange.error, exchange)
        return ActionResult("operation", label, PASS, f"{method} {url} → {response.status}", exchange)

    def _request_of(self, state: _State, op: dict) -> tuple[str, str, Any]:
        code = op.get("type", {}).get("code", "")
        resource = op.get("resource", "")
        body = state.body(op["sourceId"]) if op.get("sourceId") else None
        url = state.substitute(op["url"]) if op.get("url") else None
        target = state.reference(op["targetId"]) if op.get("targetId") else None
        params = state.substitute(op.get("params", ""))
        defaults = {"capabilities": "GET", "read": "GET", "vread": "GET", "search": "GET", "history": "GET",
                    "create": "POST", "update": "PUT", "updateCreate": "PUT", "patch": "PATCH", "delete": "DELETE",
                    "transaction": "POST", "batch": "POST"}
        method = (op.get("method") or defaults.get(code, "POST")).upper()
        if code in ("update", "updateCreate") and url and isinstance(body, dict):
            body = {**body, "id": url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]}  # fixtures carry no id
        if url is None:
            if code == "capabilities":
                url = "metadata"
            elif code in ("transaction", "batch"):
                url = ""
            elif code in ("create", "search"):
                url = resource + params
            elif target:
                url = target + params
            elif code in ("update", "updateCreate") and isinstance(body, dict) and body.get("id"):
                url = f"{body['resourceType']}/{body['id']}"
            else:
                raise ActionError(f"operation {code} names neither url nor targetId")
        return method, url, body

    def _delete(self, state: _State, reference: str, label: str) -> ActionResult:
        exchange, response = self._send(state, "DELETE", reference, None)
        ok = response.status in (200, 202, 204, 404, 410)
        return ActionResult("operation", label, PASS if ok else WARNING, f"DELETE {reference} → {response.status}",
                            exchange)

    def _send(self, state: _State, method: str, url: str, body: Any,
              headers: dict[str, str] | None = None) -> tuple[Exchange, Response]:
        full = url if url.startswith(("http://", "https://")) else f"{self.base}/{url.lstrip('/')}".rstrip("/")
        sent = {"Accept": FHIR_JSON, **(headers or {})}
        data = None
        if body is not None:
            sent.setdefault("Content-Type", FHIR_JSON)
            data = json.dumps(_tagged(body, self.run_id) if method in ("POST", "PUT") else body, ensure_ascii=False)
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        exchange = Exchange(method, full, masked(sent), clipped(data))
        try:
            answer = self.session.request(method, full, data=data.encode("utf-8") if data else None, headers=sent,
                                          timeout=TIMEOUT)
        except requests.RequestException as error:
            exchange.error = f"{type(error).__name__}: {error}"
            return exchange, Response(None, {}, None, exchange)
        exchange.status = answer.status_code
        exchange.response_headers = masked(dict(answer.headers))
        exchange.response_body = clipped(answer.text)
        return exchange, Response(answer.status_code, dict(answer.headers), answer.text, exchange)

    # --- asserts ---------------------------------------------------------------------------------

    def _assert(self, state: _State, definition: dict) -> ActionResult:
        label = definition.get("label") or definition.get("description") or "assert"
        source = definition.get("sourceId")
        response = state.fixtures.get(source) if source else state.last
        exchange = response.exchange if isinstance(response, Response) else None
        if not isinstance(response, Response):
            if response is None:
                return ActionResult("assert", label, FAIL, f"nothing to check: '{source or 'the last response'}' "
                                    "does not exist (an earlier operation did not run)")
            response = Response(200, {}, json.dumps(response))  # a fixture as it was loaded
        try:
            note = check(definition, Observed(response.status, response.headers, response.body), state.substitute,
                         self.validate, state.script.profiles)
        except (AssertionFailed, ActionError) as error:
            failed = WARNING if definition.get("warningOnly") else FAIL
            return ActionResult("assert", label, failed, str(error), exchange)
        return ActionResult("assert", label, PASS, note)


def _tagged(body: Any, run_id: str) -> Any:
    """The resource (or each resource of a Bundle) with the run's tag, so a vendor can purge it."""
    if not isinstance(body, dict) or body.get("resourceType") in (None, "Parameters"):
        return body
    if body["resourceType"] == "Bundle":
        return {**body, "entry": [{**e, "resource": _tagged(e["resource"], run_id)} if "resource" in e else e
                                  for e in body.get("entry", [])]}
    meta = dict(body.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if t.get("system") != RUN_TAG_SYSTEM]
    meta["tag"] = [*tags, {"system": RUN_TAG_SYSTEM, "code": run_id, "display": "Jiayi conformance kit run"}]
    return {**body, "meta": meta}


class _State:
    """Fixtures, responses and variables of one script's run."""

    def __init__(self, script: Script, run_id: str) -> None:
        self.script, self.run_id = script, run_id
        self.fixtures: dict[str, Any] = {}  # id → Response (a response, or an autocreated fixture)
        self.created: dict[str, str] = {}  # autocreated fixture → Type/id
        self.last: Response | None = None
        self.variables = {v["name"]: v for v in script.resource.get("variable", [])}

    def substitute(self, text: str) -> str:
        return _VARIABLE.sub(lambda m: self.value(m.group(1)), text)

    def value(self, name: str) -> str:
        if name == "runId":
            return self.run_id
        variable = self.variables.get(name)
        if variable is None:
            raise ActionError(f"variable ${{{name}}} is not declared")
        source = variable.get("sourceId")
        if source and ("expression" in variable or "headerField" in variable):
            response = self.fixtures.get(source)
            if not isinstance(response, Response):
                raise ActionError(f"variable ${{{name}}} has no value: '{source}' does not exist yet")
            if "headerField" in variable:
                found = next((v for k, v in response.headers.items() if k.lower() == variable["headerField"].lower()),
                             None)
            else:
                try:
                    values = fhirpath.evaluate(response.body, variable["expression"]) if response.body else []
                except Exception as error:  # noqa: BLE001 - reported as the variable's problem
                    raise ActionError(f"variable ${{{name}}}: {variable['expression']} fails ({error})") from error
                found = str(values[0]) if values else None
            if found is not None:
                return found
        if "defaultValue" in variable:
            return variable["defaultValue"]
        raise ActionError(f"variable ${{{name}}} has no value "
                          f"({variable.get('expression', '')} on '{source}' is empty)")

    def body(self, fixture_id: str) -> Any:
        if fixture_id in self.fixtures and isinstance(self.fixtures[fixture_id], Response):
            return self.fixtures[fixture_id].body
        try:
            text = self.script.fixture_text(fixture_id)
        except (StopIteration, OSError) as error:
            raise ActionError(f"fixture '{fixture_id}' cannot be read ({error})") from error
        return json.loads(_VARIABLE.sub(lambda m: json.dumps(self.value(m.group(1)), ensure_ascii=False)[1:-1], text))

    def reference(self, fixture_id: str) -> str:
        """``Type/id`` of a fixture or response."""
        body = self.body(fixture_id) if fixture_id in self.fixtures else None
        if not isinstance(body, dict) or not body.get("id"):
            raise ActionError(f"'{fixture_id}' has no resource with an id")
        return f"{body['resourceType']}/{body['id']}"
