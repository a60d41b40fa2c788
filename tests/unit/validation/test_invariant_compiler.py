"""Compiled base invariants (issue 16 §4: base invariants on every write, compiled rather than
interpreted): the compiled closures agree with the FHIRPath engine on every element of the
official R4 examples, and follow FHIRPath's collection semantics on the shapes that matter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fhir_server.validation.base_invariants as walker_module
from fhir_server.validation.invariant_compiler import compile_invariant
from fhir_server.validation.invariants import Invariant, holds

EXAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "fhir-r4" / "examples"


def _check(expression: str, node: object, resource: object = None) -> bool | None:
    compiled = compile_invariant(expression)
    assert compiled is not None, expression
    return compiled(node, resource if resource is not None else node, resource if resource is not None else node)


@pytest.mark.parametrize(("expression", "node", "expected"), [
    ("code.empty() or system.exists()", {"code": "mm[Hg]"}, False),
    ("code.empty() or system.exists()", {"code": "mm[Hg]", "system": "http://unitsofmeasure.org"}, True),
    ("value.empty() or component.where(value.exists()).empty()", {"valueQuantity": {"value": 1}}, True),
    ("dataAbsentReason.empty() or value.empty()", {"valueString": "x", "dataAbsentReason": {"text": "y"}}, False),
    ("birthDate.exists()", {"_birthDate": {"extension": [{"url": "u", "valueCode": "unknown"}]}}, True),
    ("birthDate.hasValue()", {"_birthDate": {"extension": [{"url": "u", "valueCode": "unknown"}]}}, False),
    ("(identifier.count() + name.count()) > 0", {"alias": ["a"]}, False),
    ("enableWhen.count() > 2 implies enableBehavior.exists()", {"enableWhen": [{}, {}, {}]}, False),
    ("type = 'group' implies item.empty().not()", {"type": "group"}, False),
    ("type = 'group' implies item.empty().not()", {"type": "string"}, True),
    ("answer.all(item.empty())", {"answer": [{"valueString": "a"}, {"valueString": "b", "item": [{}]}]}, False),
    ("descendants().linkId.isDistinct()", {"item": [{"linkId": "1", "item": [{"linkId": "1"}]}]}, False),
    ("%resource.status = 'final'", {}, True),  # {} is not the resource: %resource is the resource below
])
def test_compiled_semantics(expression, node, expected):
    resource = {"resourceType": "Observation", "status": "final"} if "%resource" in expression else None
    assert _check(expression, node, resource) is expected


@pytest.mark.parametrize("expression", [
    "Appointment.start.exists()",            # a type name: the engine's job
    "value.is(Quantity)",                     # type tests
    "name.matches('[A-Z].*')",               # regular expressions
    "start.hasValue().not() or end.hasValue().not() or (start <= end)",  # compiled, but dates are undecided
])
def test_outside_the_subset_is_left_to_the_engine(expression):
    compiled = compile_invariant(expression)
    if compiled is not None:
        assert compiled({"start": "2024-01-01T10:00:00+08:00", "end": "2024-01-01T03:00:00Z"}, {}, {}) is None


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="the official R4 examples (../shared/fhir-r4) are not here")
def test_compiled_invariants_agree_with_the_engine_on_the_official_examples(monkeypatch):
    counts = {"agree": 0, "compiled": 0}
    disagreements: list[tuple] = []

    def both(inv, node, base, resource, root):
        engine = holds(inv, node, base, resource, root)
        compiled = compile_invariant(inv.expression) if inv.evaluable else None
        result = compiled(node, resource, root) if compiled is not None else None
        if result is not None and engine is not None:
            counts["compiled"] += 1
            if result == engine:
                counts["agree"] += 1
            else:
                disagreements.append((inv.key, json.dumps(node)[:200], engine, result))
        return engine

    monkeypatch.setattr(walker_module, "holds", both)
    monkeypatch.setattr(walker_module, "compile_invariant", lambda _expression: None)  # the engine path only
    walker_module._plan.cache_clear()  # the plan compiles once: build it again without the compiler
    try:
        for path in sorted(EXAMPLES.glob("*.json"))[::3]:
            resource = json.loads(path.read_text(encoding="utf-8"))
            walker_module.base_invariant_issues(resource, resource["resourceType"])
    finally:
        walker_module._plan.cache_clear()
    assert disagreements == []
    assert counts["compiled"] > 10_000


@pytest.mark.parametrize(("start", "end"), [
    ("2026-06-03", "2027-06-02"), ("2026-06-03", "2027-06-01"), ("2026-06-03", "2029-06-03"),
    ("2026-06-03", "2029-06-04"), ("2024-02-29", "2025-02-27"), ("2024-02-29", "2025-02-28"),
    ("2024-02-29", "2027-02-28"), ("2024-02-29", "2027-03-01"), ("2026-06-03", "2026-06-03"),
])
@pytest.mark.parametrize("status", ["executed", "terminated"])
def test_the_native_contract_term_agrees_with_the_engine(start, end, status):
    """jiayi-ctr-1 is checked in Python on every profiled Contract; it must answer as FHIRPath does."""
    from fhir_server.core.fhirpath import evaluate
    from fhir_server.validation.native_invariants import NATIVE_EXPRESSIONS, contract_term

    (expression,) = [e for e, f in NATIVE_EXPRESSIONS.items() if f is contract_term]
    contract = {"resourceType": "Contract", "status": status, "applies": {"start": start, "end": end}}
    assert [contract_term(contract)] == evaluate(contract, expression, "Contract", {})


def test_the_native_contract_term_is_the_profile_s_expression():
    from fhir_server.validation import ig
    from fhir_server.validation.native_invariants import NATIVE_EXPRESSIONS

    root = ig.conformance().compiled("https://jiayi.dev/fhir/StructureDefinition/jiayi-contract")
    assert any(i.key == "jiayi-ctr-1" and i.expression in NATIVE_EXPRESSIONS for n in root.walk() for i in n.invariants)


HOSPITAL = "https://jiayi.dev/fhir/StructureDefinition/jiayi-combination-hospital"
CTR_3 = (f"extension.where(url = '{HOSPITAL}').extension.where(url = 'level').valueCode.isDistinct()")


def _hospital(*levels: object) -> dict:
    parts = [{"url": "level", "valueCode": level} if level is not None else {"valueCode": "x"} for level in levels]
    return {"url": HOSPITAL, "extension": parts}


@pytest.mark.parametrize(("expression", "node"), [
    (CTR_3, {"extension": [_hospital("district"), _hospital("city")]}),
    (CTR_3, {"extension": [_hospital("district"), _hospital("district")]}),
    (CTR_3, {"extension": [_hospital("district", None), {"url": "other", "valueCode": "district"},
                           _hospital("district")]}),
    (CTR_3, {"extension": [{"valueCode": "no url"}, _hospital("city"), {"url": HOSPITAL}]}),
    ("extension.where(url != 'a').count() = 1", {"extension": [{"url": "a"}, {"url": "b"}, {"valueCode": "c"}]}),
    ("extension.where(url = 'a').exists()", {"extension": [{"url": ["a", "a"]}]}),
    ("identifier.where(system = 'urn:oid:1.2').count() = 1",
     {"identifier": [{"system": "urn:oid:1.2", "value": "1"}, {"system": "urn:oid:1.3", "value": "2"}]}),
])
def test_where_on_a_field_agrees_with_the_engine(expression, node):
    """``where(field = 'text')`` is compiled without a criterion per item (issue 19): the answers
    are the FHIRPath engine's."""
    compiled = _check(expression, node)
    assert compiled is not None
    assert compiled == holds(Invariant("t-1", "error", expression, ""), node, "Contract", node, node)


@pytest.mark.parametrize("levels", [
    ["district", "city"], ["district", "district"], [], ["city"], ["2020-01", "2020-01"], [1, 1], ["a", None],
])
@pytest.mark.parametrize("odd", [None, "url-list", "extended-code", "no-url"])
def test_the_native_hospital_levels_agree_with_the_compiled_fhirpath(levels, odd):
    """jiayi-ctr-3 is checked in Python on every profiled Contract; where it answers, the compiled
    FHIRPath (held to the engine above) answers the same."""
    from fhir_server.validation.native_invariants import HOSPITAL, NATIVE_EXPRESSIONS, distinct_hospital_levels

    (expression,) = [e for e, f in NATIVE_EXPRESSIONS.items() if f is distinct_hospital_levels]
    hospitals = [{"url": HOSPITAL, "extension": [{"url": "level", "valueCode": code}]} for code in levels]
    if odd == "url-list" and hospitals:
        hospitals[0]["url"] = [HOSPITAL]
    elif odd == "extended-code" and hospitals:
        hospitals[-1]["extension"][0] = {"url": "level", "_valueCode": {"id": "x"}}
    elif odd == "no-url" and hospitals:
        del hospitals[0]["extension"][0]["url"]
    contract = {"resourceType": "Contract", "extension": [{"url": "http://x.org/other", "valueCode": "city"},
                                                          *hospitals]}
    native = distinct_hospital_levels(contract)
    compiled = compile_invariant(expression)(contract, contract, contract)  # type: ignore[misc]
    assert native is None or native == compiled
    if odd is None and all(isinstance(c, str) and not c[:1].isdigit() for c in levels):
        assert native is compiled is not None  # plain strings: answered natively
