"""Query string → :class:`SearchRequest` (FHIR R4 §3.1.1 search, §3.1.1.5 modifiers and prefixes).

Every value is parsed here, so a malformed one is a 400 that names its parameter before any
SQL runs.  Unknown parameters and modifiers are warnings (``handling=lenient``) or a 400
(``strict``).  Result parameters (``_count``, ``_sort``, ...) are in :mod:`.result_params`.
"""

from __future__ import annotations

from fhir_server.core.errors import BadRequest, Issue
from fhir_server.definitions.ig import identifier_aliases
from fhir_server.search import fulltext, pinyin
from fhir_server.search.cost import Limits, check_cost, configured
from fhir_server.search.params import KINDS, composite, reference, string, token
from fhir_server.search.parse_state import ParseState as _State
from fhir_server.search.parse_state import Unknown, lookup
from fhir_server.search.registry import ParamRegistry, SearchParam, base_registry, compartment_params
from fhir_server.search.request import (
    AnyTest,
    ChainTest,
    HasTest,
    MissingTest,
    SearchRequest,
    Test,
    ValueTest,
)
from fhir_server.search.result_params import RESULT_PARAMS, apply_result_param
from fhir_server.search.values import ValueError_, split_escaped, unescape

IGNORED = frozenset({"_format", "_pretty", "_handling"})


__all__ = ["Unknown", "lookup", "parse_search"]


def parse_search(resource_type: str | None, items: list[tuple[str, str]], *, strict: bool = False,
                 compartment: tuple[str, str] | None = None, registry: ParamRegistry | None = None,
                 limits: Limits | None = None, terminology: object = None) -> SearchRequest:
    """Parse ``items`` against ``registry``: the parameters in force for the store the search will
    run on (``uow.search_params()``, which includes its custom SearchParameters); without one,
    the standard R4 and Jiayi IG parameters only."""
    state = _State(resource_type, registry or base_registry(), strict, limits or configured(), terminology)
    if compartment:
        state.tests.append(compartment_test(state, *compartment))
    for name, value in items:
        if "\x00" in name or "\x00" in value:  # PostgreSQL text cannot hold NUL: refuse, never a 500
            raise BadRequest(f"Search parameter '{name}' contains a NUL character", expression=(name,))
        if name in IGNORED or value == "" and not name.startswith("_"):
            continue
        _check_nesting(state, name)
        try:
            _item(state, name, value)
        except Unknown as exc:
            if strict:
                raise BadRequest(str(exc), expression=(name,)) from None
            state.warnings.append(Issue("not-supported", f"{exc}; ignored", "warning", (name,)))
        except ValueError_ as exc:
            raise BadRequest(f"Invalid value for search parameter '{name}': {exc}", expression=(name,)) from None
    request = SearchRequest(resource_type, tuple(state.tests), warnings=tuple(state.warnings),
                            items=tuple(items), **state.result)
    return check_cost(request, state.limits)


def _check_nesting(state: _State, name: str) -> None:
    """Chains and ``_has`` are parsed recursively: refuse a deep one before recursing into it."""
    levels = name.count(".") + name.count("_has:")
    if levels > state.limits.max_chain_depth:
        from fhir_server.core.errors import TooCostly

        raise TooCostly(f"Chains and _has may nest at most {state.limits.max_chain_depth} levels "
                        f"('{name[:60]}…' has {levels})", expression=(name[:60],))


def _item(state: _State, name: str, value: str) -> None:
    base, _, modifier = name.partition(":")
    if base in RESULT_PARAMS:
        apply_result_param(state, base, modifier or None, value)
    elif name.startswith("_has:"):
        state.tests.append(_has(state, state.resource_type, name[len("_has:"):], value))
    else:
        state.tests.append(_clause(state, state.resource_type, name, value))


def _clause(state: _State, res_type: str | None, name: str, value: str) -> Test:
    head, dot, rest = name.partition(".")
    code, _, modifier = head.partition(":")
    if code in fulltext.PARAMS and not dot:
        return _text_test(state, res_type, code, modifier or None, value)
    param = lookup(state, res_type, code)
    if dot:
        return _chain(state, res_type, param, modifier or None, rest, value)
    return _value_test(state, param, modifier or None, value, res_type)


def _text_test(state: _State, res_type: str | None, code: str, modifier: str | None, value: str) -> Test:
    """``_text`` / ``_content``: full text, answered from the token table (:mod:`.fulltext`)."""
    param = state.registry.get(res_type, code)
    if param is None:
        raise Unknown(f"Unknown search parameter '{code}'" + (f" for {res_type}" if res_type else ""))
    if modifier is not None:
        raise Unknown(f"Unknown modifier ':{modifier}' for search parameter '{code}'")
    alternatives = [unescape(v) for v in split_escaped(value, ",")]
    _check_or_values(state, code, alternatives)
    queries = tuple(fulltext.parse_query(v) for v in alternatives)
    if not any(q.tokens or q.prefixes for q in queries):
        raise ValueError_("no words or characters to search for")
    return ValueTest(param, None, queries)


def _check_or_values(state: _State, code: str, alternatives: list[str]) -> None:
    if len(alternatives) > state.limits.max_or_values:
        from fhir_server.core.errors import TooCostly

        raise TooCostly(f"Too many values for '{code}' (at most {state.limits.max_or_values})",
                        expression=(code,))


def _pinyin_test(param: SearchParam, res_type: str | None, value: str, state: _State) -> Test:
    """``name:pinyin``: starts-with against the pinyin spellings indexed at write time (:mod:`.pinyin`)."""
    if param.type != "string" or not pinyin.applies(res_type, param.code):
        raise Unknown(f"Modifier ':pinyin' is not supported on '{param.code}'"
                      + (f" for {res_type}" if res_type else ""))
    alternatives = [unescape(v) for v in split_escaped(value, ",")]
    _check_or_values(state, param.code, alternatives)
    texts = [pinyin.query_text(pinyin.to_pinyin(v)) for v in alternatives]
    if not all(texts):
        raise ValueError_("':pinyin' needs letters (pinyin or initials) or Chinese characters")
    return ValueTest(param, pinyin.MODIFIER, tuple(string.StringValue(t) for t in texts))


def _value_test(state: _State, param: SearchParam, modifier: str | None, value: str,
                res_type: str | None = None) -> Test:
    if modifier == "missing":
        if value not in ("true", "false"):
            raise ValueError_("':missing' takes true or false")
        return MissingTest(param, value == "true")
    if modifier == pinyin.MODIFIER:
        return _pinyin_test(param, res_type, value, state)
    kind = KINDS[param.type]
    if param.type == "reference" and modifier and state.registry.is_resource_type(modifier):
        if param.targets and modifier not in param.targets:
            raise ValueError_(f"'{param.code}' cannot refer to {modifier}")
    elif param.type == "token" and modifier in token.TERMINOLOGY_MODIFIERS:
        expanded = token.terminology_values(modifier, split_escaped(value, ","), state.terminology)
        return ValueTest(param, modifier, expanded, negated=modifier == "not-in")
    elif modifier is not None and modifier not in kind.MODIFIERS:
        raise Unknown(f"Unknown modifier ':{modifier}' for search parameter '{param.code}'")
    alternatives = split_escaped(value, ",")
    _check_or_values(state, param.code, alternatives)
    if param.type == "composite":
        values = tuple(composite.parse(v, param, state.registry) for v in alternatives)
    else:
        values = tuple(kind.parse(v, modifier) for v in alternatives)
    if param.type == "token":
        values = token.with_aliases(values, identifier_aliases())  # type: ignore[arg-type, assignment]
    return ValueTest(param, modifier, values, negated=modifier in kind.NEGATING)


def _chain(state: _State, res_type: str | None, param: SearchParam, modifier: str | None, rest: str,
           value: str) -> Test:
    if param.type != "reference":
        raise ValueError_(f"'{param.code}' is not a reference parameter and cannot be chained")
    next_code = rest.partition(".")[0].partition(":")[0]
    candidates = [modifier] if modifier else list(param.targets) or list(state.registry.resource_types())
    targets = [t for t in candidates if state.registry.get(t, next_code) is not None]
    if not targets:
        raise Unknown(f"Unknown search parameter '{next_code}' in chain '{param.code}.{rest}'")
    tests = tuple(ChainTest(param, (t,), _clause(state, t, rest, value)) for t in targets)
    return tests[0] if len(tests) == 1 else AnyTest(tests)


def _has(state: _State, res_type: str | None, spec: str, value: str) -> Test:
    parts = spec.split(":", 2)
    if len(parts) != 3 or not state.registry.is_resource_type(parts[0]):
        raise ValueError_("'_has' needs _has:Type:reference-parameter:parameter")
    source, ref_code, rest = parts
    ref_param = lookup(state, source, ref_code)
    if ref_param.type != "reference":
        raise ValueError_(f"'{ref_code}' is not a reference parameter of {source}")
    inner = _has(state, source, rest[len("_has:"):], value) if rest.startswith("_has:") else _clause(
        state, source, rest, value)
    return HasTest(source, ref_param, inner)


def compartment_test(state: _State, compartment_type: str, compartment_id: str) -> Test:
    """Membership of ``compartment_type/compartment_id`` (FHIR R4 §3.1.1.3 compartments)."""
    codes = compartment_params(compartment_type).get(state.resource_type or "", ())
    value = reference.ReferenceValue(compartment_type, compartment_id)
    tests: list[Test] = [ValueTest(p, None, (value,)) for p in
                         (state.registry.get(state.resource_type, c) for c in codes) if p is not None]
    if state.resource_type == compartment_type:
        tests.append(ValueTest(lookup(state, state.resource_type, "_id"), None,
                               (token.TokenValue(code=compartment_id),)))
    if not tests:
        raise BadRequest(f"{state.resource_type} is not in the {compartment_type} compartment")
    return tests[0] if len(tests) == 1 else AnyTest(tuple(tests))
