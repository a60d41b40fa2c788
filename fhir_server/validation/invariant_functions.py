"""The FHIRPath functions compiled invariants use (:mod:`.invariant_compiler`; FHIR R4
fhirpath.html §5): existence, filtering, subsetting, combining, conversion, string tests."""

from __future__ import annotations

import re

from fhir_server.validation.invariant_values import (
    FIELD_TESTS,
    Collection,
    Env,
    Extended,
    Fn,
    NotCompilable,
    Undecided,
    children_of,
    plain,
    same_item,
    truth,
    union_of,
)


def function_of(name: str, source: Fn, args: list[Fn]) -> Fn:
    arity = len(args)
    if name == "exists" and arity <= 1:
        if arity == 0:
            return lambda focus, env: [bool(source(focus, env))]
        criteria = args[0]
        return lambda focus, env: [bool(_where(source(focus, env), criteria, env))]
    if name == "empty" and arity == 0:
        return lambda focus, env: [not source(focus, env)]
    if name == "not" and arity == 0:
        def negation(focus: Collection, env: Env) -> Collection:
            value = source(focus, env)
            if not value:
                return []
            if len(value) > 1 or not isinstance(value[0], bool):
                raise Undecided
            return [not value[0]]
        return negation
    if name == "count" and arity == 0:
        return lambda focus, env: [len(source(focus, env))]
    if name == "where" and arity == 1:
        field_test = FIELD_TESTS.get(id(args[0]))
        if field_test is not None and field_test[0] is args[0]:
            return _where_field(source, field_test[1], field_test[2], field_test[3])
        return lambda focus, env: _where(source(focus, env), args[0], env)
    if name == "all" and arity == 1:
        return lambda focus, env: [all(_criterion(item, args[0], env) is True for item in source(focus, env))]
    if name == "hasValue" and arity == 0:
        def has_value(focus: Collection, env: Env) -> Collection:
            value = source(focus, env)
            return [len(value) == 1 and not isinstance(value[0], (dict, list, Extended))]
        return has_value
    if name == "first" and arity == 0:
        return lambda focus, env: source(focus, env)[:1]
    if name == "isDistinct" and arity == 0:
        def is_distinct(focus: Collection, env: Env) -> Collection:
            items = source(focus, env)  # once: the path before it may be long
            return [len(union_of(items, [])) == len(items)]
        return is_distinct
    if name == "distinct" and arity == 0:
        return lambda focus, env: union_of(source(focus, env), [])
    if name == "select" and arity == 1:
        def select(focus: Collection, env: Env) -> Collection:
            out: list = []
            for item in source(focus, env):
                out.extend(args[0]([item], {**env, "this": item}))
            return out
        return select
    if name == "toInteger" and arity == 0:
        def to_integer(focus: Collection, env: Env) -> Collection:
            value = source(focus, env)
            if not value:
                return []
            if len(value) > 1:
                raise Undecided
            item = value[0]
            if type(item) is int:
                return [item]
            if isinstance(item, str) and re.fullmatch(r"[+-]?[0-9]+", item):
                return [int(item)]
            if isinstance(item, bool):
                return [int(item)]
            return []
        return to_integer
    if name == "iif" and arity in (2, 3):
        def iif(focus: Collection, env: Env) -> Collection:
            if truth(args[0](focus, env)) is True:
                return args[1](focus, env)
            return args[2](focus, env) if arity == 3 else []
        return iif
    if name == "trace":
        return source  # trace(name[, projection]) is the identity (and prints nothing here)
    if name == "intersect" and arity == 1:
        def intersect(focus: Collection, env: Env) -> Collection:
            other = args[0](focus, env)
            return union_of([x for x in source(focus, env) if any(same_item(x, y) for y in other)], [])
        return intersect
    if name in ("allTrue", "allFalse", "anyTrue", "anyFalse") and arity == 0:
        wanted = name in ("allTrue", "anyTrue")
        combine = all if name.startswith("all") else any

        def quantifier(focus: Collection, env: Env) -> Collection:
            items = source(focus, env)
            if any(not isinstance(x, bool) for x in items):
                raise Undecided
            return [combine(x is wanted for x in items)]
        return quantifier
    if name == "tail" and arity == 0:
        return lambda focus, env: source(focus, env)[1:]
    if name in ("children", "descendants") and arity == 0:
        deep = name == "descendants"
        return lambda focus, env: _descend(source(focus, env), deep)
    if name in ("contains", "startsWith", "endsWith") and arity == 1:
        test = {"contains": str.__contains__, "startsWith": str.startswith, "endsWith": str.endswith}[name]

        def string_test(focus: Collection, env: Env) -> Collection:
            value, arg = source(focus, env), args[0](focus, env)
            if not value or not arg:
                return []
            if len(value) > 1 or not isinstance(value[0], str) or not isinstance(arg[0], str):
                raise Undecided
            return [test(value[0], arg[0])]
        return string_test
    raise NotCompilable(f"function {name}/{arity}")


def _descend(items: Collection, deep: bool) -> Collection:
    """children(): the child nodes of each item (primitive values included); descendants(): all."""
    out: list = []
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        kids: list = []
        for key in item:
            if key.startswith("_") or key == "resourceType":
                continue
            kids.extend(children_of(item, key))
        out.extend(kids)
        if deep:
            stack.extend(reversed(kids))
    return out


def _criterion(item: object, criteria: Fn, env: Env) -> bool | None:
    return truth(criteria([item], {**env, "this": item}))


def _where_field(source: Fn, name: str, text: str, negate: bool) -> Fn:
    """``where(name = 'text')`` (or ``!=``): :func:`_where` with the criterion's member and
    comparison done in place, the same answers (an item without the field is left out)."""
    def where_field(focus: Collection, env: Env) -> Collection:
        out = []
        for item in source(focus, env):
            values = children_of(item, name)
            if values and ((len(values) == 1 and plain(values[0]) == text) != negate):
                out.append(item)
        return out
    return where_field


def _where(items: Collection, criteria: Fn, env: Env) -> Collection:
    """:func:`_criterion` for each item, with one environment whose ``$this`` changes (a
    criterion reads the environment while it runs; nothing keeps it)."""
    out = []
    inner = {**env}
    for item in items:
        inner["this"] = item
        if truth(criteria([item], inner)) is True:
            out.append(item)
    return out
