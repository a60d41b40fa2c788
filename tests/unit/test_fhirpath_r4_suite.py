"""The official FHIRPath R4 test suite (HL7 FHIR/fhir-test-cases, r4/fhirpath/tests-fhir-r4.xml)
run against the engine exactly as the server calls it (:func:`fhir_server.core.fhirpath.evaluate`,
XML inputs read by the server's own XML reader).

fhirpathpy does not pass the whole suite.  The pass rate is pinned (:data:`PINNED_PASSES`), so a
change that breaks a passing case fails here; the groups R4 invariants rely on (existence,
boolean logic, comparison of dates and times, equality, string functions, ...) must pass whole,
except for the cases listed in :data:`KNOWN_FAILURES_IN_REQUIRED` with their reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from fhir_server.core.fhirpath import evaluate
from fhir_server.formats.xml_reader import xml_to_resource

SUITE = Path(__file__).resolve().parents[1] / "data" / "fhirpath-r4"
TOTAL = 935  # <test> elements in the file (937 matches of "<test " include two inside comments)
# measured with fhirpathpy 2.2.4 and the server's fixes (788/935, 84.3%); raise it when the engine
# gets better, never lower it
PINNED_PASSES = 788
# groups whose features R4 invariants use: existence, boolean logic, equality and ordering
# (dates and times above all: per-1 and friends), collections, strings, paths and types
REQUIRED_GROUPS = frozenset({
    "testExists", "testAll", "testCount", "testWhere", "testSelect", "testDistinct", "testRepeat",
    "testBooleanLogicAnd", "testBooleanLogicOr", "testBooleanLogicXOr", "testBooleanImplies",
    "testEquality", "testNEquality", "testLessThan", "testLessOrEqual", "testGreatorOrEqual",
    "testGreaterThan", "testUnion", "testCombine()", "testIn", "testContainsCollection",
    "testStartsWith", "testEndsWith", "testContainsString", "testLength", "testSubstring",
    "testMatches", "testType", "testFirstLast", "testIndexer", "testSkip", "testTake", "testTail",
    "testObservations", "testMiscellaneousAccessorTests", "testDollar", "testTrim",
})
# failing cases inside those groups, each outside what an R4 invariant (or the server) needs
KNOWN_FAILURES_IN_REQUIRED: dict[str, str] = {
    "testEquality23": "dateTime with and without a time zone: fhirpathpy says false, the spec empty",
    "testNEquality17": "dateTime with and without a time zone: fhirpathpy says true, the spec empty",
    "testLessThan22": "ordering of a Quantity element against a quantity literal (no R4 invariant does it)",
    "testLessOrEqual22": "ordering of a Quantity element against a quantity literal",
    "testGreatorOrEqual22": "ordering of a Quantity element against a quantity literal",
    "testGreaterThan22": "ordering of a Quantity element against a quantity literal",
    "testStartsWith10": "''.startsWith('') (no R4 invariant tests an empty prefix)",
    "testSimpleFail": "strict (semantic) mode: the server evaluates leniently, an unknown name is empty",
    "testSimpleWithWrongContext": "strict (semantic) mode",
    "testPolymorphismB": "strict (semantic) mode",
    "testPolymorphismAsB": "strict (semantic) mode",
    "testDollarOrderNotAllowed": "strict (semantic) mode: ordered functions on an unordered collection",
}


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    inputfile: str | None
    expression: str
    invalid: bool
    predicate: bool
    outputs: tuple[tuple[str, str], ...]


@cache
def cases() -> tuple[Case, ...]:
    tree = etree.parse(str(SUITE / "tests-fhir-r4.xml"), etree.XMLParser(resolve_entities=False, no_network=True))
    found = []
    for group in tree.getroot().iter("group"):
        for test in group.iter("test"):
            expr = test.find("expression")
            found.append(Case(
                group=group.get("name"), name=test.get("name"), inputfile=test.get("inputfile"),
                expression=expr.text or "", invalid=expr.get("invalid") is not None,
                predicate=test.get("predicate") == "true",
                outputs=tuple((o.get("type"), o.text or "") for o in test.iter("output")),
            ))
    return tuple(found)


@cache
def _input(name: str) -> str:
    data = (SUITE / "input" / name).read_bytes()
    resource = xml_to_resource(data) if name.endswith(".xml") else json.loads(data)
    return json.dumps(resource)


def _same(kind: str, text: str, value: object) -> bool:
    if kind == "boolean":
        return value is (text == "true")
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value == int(text)
    if kind == "decimal":
        try:
            return not isinstance(value, bool) and Decimal(str(value)) == Decimal(text)
        except InvalidOperation:
            return False
    if kind in ("date", "dateTime", "time"):
        shown = getattr(value, "asStr", None) or str(value)
        return shown.lstrip("@T") == text.lstrip("@T")
    if kind == "Quantity":
        return str(value).replace('"', "'") == text
    return isinstance(value, str) and value == text


def passes(case: Case) -> bool:
    resource = json.loads(_input(case.inputfile)) if case.inputfile else {}
    try:
        result = evaluate(resource, case.expression)
    except Exception:  # noqa: BLE001 - an error is the expected answer for an invalid expression
        return case.invalid
    if case.invalid:
        return False
    if case.predicate:
        result = [bool(result)]
    if len(result) != len(case.outputs):
        return False
    return all(_same(kind, text, value) for (kind, text), value in zip(case.outputs, result, strict=True))


@cache
def outcome() -> dict[str, bool]:
    return {f"{c.group}/{c.name}#{i}": passes(c) for i, c in enumerate(cases())}


def test_the_suite_is_the_official_one():
    assert len(cases()) == TOTAL
    assert {c.inputfile for c in cases()} <= {p.name for p in (SUITE / "input").iterdir()} | {None}


def test_pass_rate_is_pinned():
    passed = sum(outcome().values())
    assert passed >= PINNED_PASSES, f"{passed}/{TOTAL} passed, pinned at {PINNED_PASSES}"


@pytest.mark.parametrize("group", sorted(REQUIRED_GROUPS))
def test_groups_r4_invariants_use_pass(group):
    failed = [k.partition("/")[2].partition("#")[0] for k, ok in outcome().items()
              if k.startswith(group + "/") and not ok]
    assert [name for name in failed if name not in KNOWN_FAILURES_IN_REQUIRED] == []
