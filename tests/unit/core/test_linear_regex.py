"""Every regular expression from outside the code runs on a linear-time engine (issue 18).

The worst-case inputs below take minutes or hours under a backtracking engine; each test has a
wall-clock alarm (:func:`deadline`), so a regression shows up as a failure, not a hang, and no
test asserts a timing.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

import pytest

from fhir_server.core import linear_regex
from fhir_server.core.fhirpath import FhirPathError, check_expression, evaluate
from fhir_server.core.linear_regex import RegexError, _bounded_re, compile_linear
from fhir_server.patch import apply_fhirpath_patch
from fhir_server.terminology.codesystem import CodeSystemIndex
from fhir_server.terminology.expansion import ExpansionError, expand
from fhir_server.validation import validate_resource
from fhir_server.validation.primitives import check_base64
from fhir_server.validation.schema import _adjusted

EVIL = "(a+)+$"
EVIL_TEXT = "a" * 5000 + "!"  # (a+)+$ backtracks 2^5000 times on this


class TooSlow(Exception):
    pass


@contextmanager
def deadline(seconds: int = 60):
    """Fail (instead of hanging) when the body runs longer than ``seconds``; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(*_args):
        raise TooSlow(f"still running after {seconds} s: a backtracking regex?")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_the_engine_is_re2_when_installed():
    pytest.importorskip("re2")
    assert linear_regex.ENGINE == "re2" and linear_regex.LINEAR
    compiled = compile_linear(EVIL)
    assert compiled.linear and type(compiled.compiled).__module__.startswith("re2")


def test_catastrophic_pattern_answers_at_once():
    with deadline():
        assert compile_linear(EVIL).fullmatch(EVIL_TEXT) is False
        assert compile_linear(EVIL).search("a" * 5000) is True


def test_patterns_re2_refuses_are_invalid():
    pytest.importorskip("re2")
    with pytest.raises(RegexError):
        compile_linear(r"(a)\1")
    with pytest.raises(RegexError):
        compile_linear("((")


@pytest.mark.parametrize("pattern", [EVIL, r"(\s*([0-9a-zA-Z\+\=]){4}\s*)+", "(a|a)*b", r"(a)\1", "a(?=b)"])
def test_fallback_refuses_backtracking_shapes(pattern):
    with pytest.raises(RegexError):
        _bounded_re(pattern, False)


@pytest.mark.parametrize("pattern", [r"^[0-9]{17}[0-9X]$", r"[A-Z]([A-Za-z0-9_]){0,254}", "a*b", "(ab)+c"])
def test_fallback_keeps_linear_patterns(pattern):
    assert _bounded_re(pattern, False).pattern == pattern


def test_base64_primitive_is_linear():
    with deadline():
        assert check_base64(" " * 50_000 + "!") is not None
        assert check_base64("QUJD\n QUI=") is None


def test_schema_patterns_are_not_run():
    def patterns(node):
        if isinstance(node, dict):
            return (isinstance(node.get("pattern"), str)) + sum(patterns(v) for v in node.values())
        return sum(patterns(v) for v in node) if isinstance(node, list) else 0
    assert patterns(_adjusted()) == 0


def test_binary_of_spaces_validates_quickly():
    with deadline():
        issues = validate_resource({"resourceType": "Binary", "contentType": "text/plain",
                                    "data": " " * 5000 + "!", "unknown": 1})
    assert any("base64Binary" in i.diagnostics for i in issues)


def test_fhirpath_regex_functions_are_linear():
    with deadline():
        assert evaluate({}, f"'{EVIL_TEXT}'.matches('{EVIL}')") == [False]
        assert evaluate({}, f"'{EVIL_TEXT}'.replaceMatches('{EVIL}', 'x')") == [EVIL_TEXT]
        assert evaluate({}, "'2024-03-01'.replaceMatches('(\\\\d+)-(\\\\d+)-(\\\\d+)', '$3/$2/$1')") == ["01/03/2024"]
    with pytest.raises(FhirPathError):
        evaluate({}, "'aa'.matches('(a)\\\\1')")


def test_fhirpath_patch_where_matches_is_linear():
    patient = {"resourceType": "Patient", "name": [{"family": EVIL_TEXT}, {"family": "张"}]}
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "delete"},
        {"name": "path", "valueString": f"Patient.name.where(family.matches('{EVIL}'))"}]}]}
    with deadline():
        result = apply_fhirpath_patch(patient, parameters)
    assert result["name"] == patient["name"]  # nothing matched, nothing deleted


def test_expand_regex_filter_is_linear():
    index = CodeSystemIndex.from_resource({"resourceType": "CodeSystem", "url": "http://example.org/cs",
                                           "content": "complete", "concept": [
                                               {"code": "a" * 28 + "!"}, {"code": "aaa"}]})
    value_set = {"resourceType": "ValueSet", "compose": {"include": [{"system": "http://example.org/cs", "filter": [
        {"property": "concept", "op": "regex", "value": "(a+)+"}]}]}}
    with deadline():
        concepts = expand(value_set, lambda url, version=None: index, lambda url: None)
    assert [c.code for c in concepts] == ["aaa"]
    value_set["compose"]["include"][0]["filter"][0]["value"] = r"(a)\1"
    if linear_regex.LINEAR:
        with pytest.raises(ExpansionError):
            expand(value_set, lambda url, version=None: index, lambda url: None)


@pytest.mark.parametrize("expression", [
    "Patient.name.where(family.matches('(a)\\\\1'))",  # a back-reference: no linear engine runs it
    "Patient.name.where(",
    "Patient.name.frobnicate()",
    "Patient.name given",
])
def test_search_parameter_expressions_that_cannot_run_are_refused(expression):
    with pytest.raises(FhirPathError):
        check_expression(expression)
    issues = validate_resource({"resourceType": "SearchParameter", "url": "http://example.org/sp/x", "name": "x",
                                "status": "active", "description": "x", "code": "x", "base": ["Patient"],
                                "type": "string", "expression": expression})
    assert any(i.expression == ("SearchParameter.expression",) and i.is_error for i in issues)


def test_search_parameter_with_a_costly_looking_regex_is_bounded_not_refused():
    check_expression(f"Patient.name.where(family.matches('{EVIL}')).family")


def test_without_re2_the_bounded_fallback_is_used(monkeypatch):
    monkeypatch.setattr(linear_regex, "_re2", None)
    compile_linear.cache_clear()
    try:
        with pytest.raises(RegexError):
            compile_linear(EVIL)  # refused: a repeat inside a repeat
        pattern = compile_linear("a*b")
        assert not pattern.linear
        with deadline():
            assert pattern.search("a" * 100_000 + "b") is False  # cut at FALLBACK_MAX_TEXT characters
        assert pattern.fullmatch("aab") is True
    finally:
        compile_linear.cache_clear()
