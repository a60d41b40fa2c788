"""The conformance TestScripts of the Jiayi IG (profiles/tests/), built from profiles/src/tests/.

Each ``profiles/src/tests/<suite>-*.yaml`` is one FHIR R4 ``TestScript`` (one capability of one
actor); ``fixtures.yaml`` holds the fixtures they send (profiles/tests/fixtures/<name>.json).
The YAML is a compact spelling of the TestScript elements:

- ``op`` (an operation: ``type`` code, ``source`` = sourceId, ``response`` = responseId, ``url``,
  ``params``, ``method``, ``resource``), ``assert`` (``response``, ``responseCode``, ``resource``,
  ``profile`` = validateProfileId, ``expression``, ``value``, ``operator``, ``header``, ``source``);
- ``world``: fixtures created before the tests and deleted after them (autocreate/autodelete),
  each with a variable ``<name>Id`` holding the id the server gave it;
- ``cleanup``: responses (or ``Type/${var}`` references) deleted in the teardown;
- ``assert-each-*``: one assert per IG profile / interaction / search parameter / operation;
- ``tests: examples``: one test per example instance of the IG.

Every test carries an id, its requirement in English and Chinese (the Chinese as the standard
``translation`` extension) and the SPEC passage it enforces (extension ``jiayi-conformance-source``).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

BASE = "https://jiayi.dev/fhir"
SD = BASE + "/StructureDefinition/"
OPERATION_CODES = "http://terminology.hl7.org/CodeSystem/testscript-operation-codes"
JIAYI_OPERATION_CODES = BASE + "/CodeSystem/testscript-operation"  # operations the standard codes lack
STANDARD_OPERATIONS = {"read", "vread", "update", "updateCreate", "patch", "delete", "history", "create", "search",
                       "batch", "transaction", "capabilities", "validate", "everything"}
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
SOURCE_EXTENSION = SD + "jiayi-conformance-source"
SERVER_CAPABILITIES = BASE + "/CapabilityStatement/jiayi-server"
CLIENT_CAPABILITIES = BASE + "/CapabilityStatement/jiayi-client"
R4_PROFILE = "http://hl7.org/fhir/StructureDefinition/"  # validateProfileId Parameters, Bundle…: the base type
USAGE_CONTEXT = "http://terminology.hl7.org/CodeSystem/usage-context-type"
EXAMPLE_ORDER = ["Organization", "Practitioner", "Patient", "Group", "PlanDefinition", "CareTeam", "Contract",
                 "Encounter", "Provenance", "CarePlan", "MedicationRequest", "ServiceRequest", "Task",
                 "QuestionnaireResponse"]


def _zh(text: str) -> dict:
    return {"extension": [{"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": "zh"},
                                                              {"url": "content", "valueString": text}]}]}


def _camel(ident: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in ident.split("-"))


def variable_of(fixture: str) -> str:
    """``resident`` → ``residentId``, ``second-contract`` → ``secondContractId``."""
    name = _camel(fixture)
    return name[:1].lower() + name[1:] + "Id"


def fixtures(src: Path) -> dict[str, dict]:
    """Fixture name → resource (``$extends`` variants resolved)."""
    raw = yaml.safe_load((src / "fixtures.yaml").read_text(encoding="utf-8"))
    out: dict[str, dict] = {}
    for name, body in raw.items():
        if "$extends" in body:
            merged = copy.deepcopy(out[body["$extends"]])
            merged.update({k: v for k, v in body.items() if k != "$extends"})
            out[name] = {"resourceType": merged.pop("resourceType"), **merged}
        else:
            out[name] = body
    return out


def example_bundle(examples: list[dict]) -> dict:
    """A transaction storing every IG example under its own id (PUT), referenced ones first."""
    ordered = sorted(examples, key=lambda r: (EXAMPLE_ORDER.index(r["resourceType"])
                                              if r["resourceType"] in EXAMPLE_ORDER else len(EXAMPLE_ORDER), r["id"]))
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r,
                       "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in ordered]}


class _Script:
    def __init__(self, spec: dict, fixture_bodies: dict[str, dict], ig_profiles: list[dict],
                 examples: list[dict]) -> None:
        self.spec, self.bodies, self.ig_profiles, self.examples = spec, fixture_bodies, ig_profiles, examples
        self.used: list[str] = []

    def fixture(self, name: str) -> str:
        if name not in self.bodies:
            raise KeyError(f"{self.spec['id']}: unknown fixture '{name}'")
        if name not in self.used:
            self.used.append(name)
        return name

    def operation(self, op: dict) -> dict:
        code = op["op"]
        system = OPERATION_CODES if code in STANDARD_OPERATIONS else JIAYI_OPERATION_CODES
        out: dict = {"type": {"system": system, "code": code}}
        resource = op.get("resource") or (self.bodies[op["source"]]["resourceType"]
                                          if op.get("source") and code in ("create", "update") else None)
        if resource:
            out["resource"] = resource
        if op.get("label"):
            out["label"] = op["label"]
        out.update(accept="json", encodeRequestUrl=True)
        if op.get("source"):
            out["contentType"] = "json"
        if op.get("method"):
            out["method"] = op["method"]
        if op.get("params"):
            out["params"] = op["params"]
        if op.get("headers"):
            out["requestHeader"] = [{"field": k, "value": v} for k, v in op["headers"].items()]
        if op.get("response"):
            out["responseId"] = op["response"]
        if op.get("source"):
            out["sourceId"] = self.fixture(op["source"])
        if op.get("url"):
            out["url"] = op["url"]
        return {"operation": out}

    @staticmethod
    def assertion(a: dict, label: str | None = None, description: str | None = None) -> list[dict]:
        """One ``assert`` per kind of check (tst-5: a single assertion per assert element)."""
        label = a.get("label") or label
        description = a.get("description") or description
        kinds = [k for k in ("requestMethod", "requestURL", "response", "responseCode", "resource", "profile",
                             "expression", "header") if k in a]
        out = []
        for i, kind in enumerate(kinds):
            one: dict = {}
            if label:
                one["label"] = label if i == 0 else f"{label}-{kind}"
            if description and i == 0:
                one["description"] = description
            one["direction"] = a.get("direction", "response")
            keys = [kind] + (["operator", "value"] if kind in ("responseCode", "expression", "header", "requestURL")
                             else [])
            for key, name in (("expression", "expression"), ("header", "headerField"), ("operator", "operator"),
                              ("resource", "resource"), ("response", "response"), ("responseCode", "responseCode"),
                              ("source", "sourceId"), ("profile", "validateProfileId"), ("value", "value"),
                              ("requestMethod", "requestMethod"), ("requestURL", "requestURL")):
                if key in a and (key in keys or key == "source"):
                    one[name] = a[key].rsplit("/", 1)[-1] if key == "profile" else a[key]
            one["warningOnly"] = bool(a.get("warningOnly", False))
            out.append({"assert": one})
        return out

    def expand_each(self, kind: str, args: dict) -> list[dict]:
        src = args["source"]
        asserts = []
        if kind == "assert-each-profile":
            for p in self.ig_profiles:
                expression = f"rest.resource.where(type = '{p['base']}').supportedProfile contains '{SD}{p['id']}'"
                asserts += (self.assertion({"source": src, "expression": expression}, f"profile-{p['id']}",
                                              f"{p['base']} lists {SD}{p['id']}"))
        elif kind == "assert-each-interaction":
            for t in args["types"]:
                for code in args["codes"]:
                    expression = f"rest.resource.where(type = '{t}').interaction.code contains '{code}'"
                    asserts += (self.assertion({"source": src, "expression": expression}, f"{t}-{code}",
                                                  f"{t} declares {code}"))
        elif kind == "assert-each-search-param":
            for t, names in args["params"].items():
                for name in names:
                    expression = f"rest.resource.where(type = '{t}').searchParam.name contains '{name}'"
                    asserts += (self.assertion({"source": src, "expression": expression}, f"{t}-{name}",
                                                  f"{t}?{name}= is declared"))
        elif kind == "assert-each-operation":
            for t, names in args["operations"].items():
                for name in names:
                    expression = (f"(rest.resource.where(type = '{t}').operation.name | rest.operation.name)"
                                  f".select(replace('$', '')) contains '{name}'")
                    asserts += (self.assertion({"source": src, "expression": expression}, f"{t}-{name}",
                                                  f"{t}/${name} is declared"))
        else:
            raise KeyError(kind)
        return asserts

    def actions(self, rows: list[dict]) -> list[dict]:
        out = []
        for row in rows:
            if "op" in row:
                out.append(self.operation(row))
            elif "assert" in row:
                out += self.assertion(row["assert"])
            else:
                (kind, args), = row.items()
                out += self.expand_each(kind, args)
        return out

    def test(self, t: dict) -> dict:
        return {"id": t["id"], "extension": [{"url": SOURCE_EXTENSION, "valueString": t["source"]}],
                "name": t["id"], "description": t["en"], "_description": _zh(t["zh"]),
                "action": self.actions(t["actions"])}

    def example_tests(self) -> list[dict]:
        tests = []
        for r in self.examples:
            kind, rid = r["resourceType"], r["id"]
            actions = [{"op": "read", "resource": kind, "url": f"{kind}/{rid}", "response": f"read-{rid}"},
                       {"assert": {"response": "okay", "resource": kind, "label": "read"}}]
            for url in (r.get("meta") or {}).get("profile", []):
                actions.append({"assert": {"source": f"read-{rid}", "profile": url.rsplit("/", 1)[-1],
                                           "label": "valid"}})
            actions += [{"op": "search", "resource": kind, "params": f"?_id={rid}", "response": f"search-{rid}"},
                        {"assert": {"source": f"search-{rid}", "label": "found-by-id",
                                    "expression": f"entry.resource.where(id = '{rid}').exists()"}}]
            identifiers = r.get("identifier") if isinstance(r.get("identifier"), list) else []
            if identifiers and identifiers[0].get("system") and identifiers[0].get("value"):
                first = identifiers[0]
                actions += [{"op": "search", "resource": kind,
                             "params": f"?identifier={first['system']}|{first['value']}", "response": f"by-id-{rid}"},
                            {"assert": {"source": f"by-id-{rid}",
                                        "expression": f"entry.resource.where(id = '{rid}').exists()",
                                        "label": "found-by-identifier"}}]
            profile = (r.get("meta") or {}).get("profile", ["(no profile)"])[0].rsplit("/", 1)[-1]
            tests.append(self.test({
                "id": f"SRV-EX-{kind}-{rid}",
                "en": f"The IG example {kind}/{rid} ({profile}) is stored, read back, found by search and valid.",
                "zh": f"实施指南示例 {kind}/{rid}（{profile}）可写入、读回、检索到且通过校验。",
                "source": f"SPEC §3: profiles/ holds … example instances; {profile}.",
                "actions": actions}))
        return tests

    def build(self) -> dict:
        s = self.spec
        world = s.get("world", [])
        for name in world:
            self.fixture(name)
        setup = self.actions(s.get("setup", []))
        tests = self.example_tests() if s["tests"] == "examples" else [self.test(t) for t in s["tests"]]
        teardown = []
        for item in s.get("cleanup", []):  # a response (deleted by its type and id) or "Type/${var}"
            if "/" in item:
                teardown.append(self._delete({"resource": item.split("/")[0], "url": item, "label": f"delete-{item}"}))
            else:
                teardown.append(self._delete({"target": item, "label": f"delete-{item}"}))
        if s["tests"] == "examples":
            for r in reversed(example_bundle(self.examples)["entry"]):
                teardown.append(self._delete({"resource": r["resource"]["resourceType"],
                                              "url": r["request"]["url"], "label": f"delete-{r['resource']['id']}"}))
        profiles = sorted({p for t in tests for a in t["action"] if "assert" in a
                           for p in [a["assert"].get("validateProfileId")] if p}
                          | {a["assert"]["validateProfileId"] for a in setup
                             if "assert" in a and "validateProfileId" in a["assert"]})
        variables = [{"name": variable_of(n), "expression": "id", "sourceId": n} for n in world]
        for name, v in (s.get("variables") or {}).items():
            variables.append({"name": name, "expression": v["expression"], "sourceId": v["source"]})
        script: dict = {
            "resourceType": "TestScript", "id": s["id"], "url": f"{BASE}/TestScript/{s['id']}",
            "identifier": {"system": BASE + "/conformance", "value": s["id"]},
            "version": "0.1.0", "name": _camel(s["id"]), "title": s["title"]["en"], "_title": _zh(s["title"]["zh"]),
            "status": "active", "experimental": False, "date": "2026-12-01", "publisher": "Jiayi (家医) project",
            "description": s["description"]["en"], "_description": _zh(s["description"]["zh"]),
            "useContext": [{"code": {"system": USAGE_CONTEXT, "code": "user"},
                            "valueCodeableConcept": {"text": s["actor"]}},
                           {"code": {"system": USAGE_CONTEXT, "code": "focus"},
                            "valueCodeableConcept": {"text": s["capability"]}}],
            "purpose": "; ".join(dict.fromkeys(t["extension"][0]["valueString"] for t in tests))[:4000],
            "metadata": {"link": [{"url": BASE + "/ImplementationGuide/jiayi", "description": "Jiayi IG"}],
                         "capability": [{"required": bool(s.get("mandatory", True)), "validated": False,
                                         "description": s["capability"],
                                         "capabilities": SERVER_CAPABILITIES if s["actor"] == "server"
                                         else CLIENT_CAPABILITIES}]},
            "fixture": [{"id": n, "autocreate": n in world, "autodelete": n in world,
                         "resource": {"reference": f"fixtures/{n}.json"}} for n in self.used],
            "profile": [{"id": p, "reference": (R4_PROFILE if p[:1].isupper() else SD) + p} for p in profiles],
            "variable": variables,
        }
        if setup:
            script["setup"] = {"action": setup}
        script["test"] = tests
        if teardown:
            script["teardown"] = {"action": teardown}
        return {k: v for k, v in script.items() if v != []}

    def _delete(self, op: dict) -> dict:
        out: dict = {"type": {"system": OPERATION_CODES, "code": "delete"}}
        if op.get("resource"):
            out["resource"] = op["resource"]
        out.update(label=op["label"], encodeRequestUrl=True)
        if op.get("target"):
            out["targetId"] = op["target"]
        if op.get("url"):
            out["url"] = op["url"]
        return {"operation": out}


def test_scripts(src: Path, ig_profiles: list[dict], examples: list[dict]) -> dict[Path, dict]:
    """profiles/tests/… path → TestScript or fixture."""
    bodies = fixtures(src)
    bodies["ig-examples"] = example_bundle(examples)
    out: dict[Path, dict] = {}
    used: set[str] = set()
    for path in sorted(src.glob("*.yaml")):
        if path.name == "fixtures.yaml":
            continue
        script = _Script(yaml.safe_load(path.read_text(encoding="utf-8")), bodies, ig_profiles, examples)
        resource = script.build()
        used.update(script.used)
        out[Path("profiles") / "tests" / f"TestScript-{resource['id']}.json"] = resource
    for name in sorted(used):
        out[Path("profiles") / "tests" / "fixtures" / f"{name}.json"] = bodies[name]
    unknown = [f"{r['id']}: {v}" for r in out.values() if r.get("resourceType") == "TestScript"
               for v in re.findall(r"\$\{([A-Za-z0-9]+)\}",
                                   str(r) + str([bodies[f["id"]] for f in r.get("fixture", [])]))
               if v not in {x["name"] for x in r.get("variable", [])} | {"runId"}]
    if unknown:
        raise ValueError(f"TestScripts use undeclared variables: {sorted(set(unknown))}")
    return out
