"""Base invariants compiled to Python closures (FHIR R4 fhirpath.html, the subset R4's constraints use).

Interpreting FHIRPath with fhirpathpy costs 0.3–3 ms per invariant and element, which the write
path cannot pay on every resource.  Most R4 constraints use a small part of FHIRPath: paths,
``exists``/``empty``/``not``/``count``/``where``/``all``/``hasValue``, boolean logic, equality,
numeric comparison, ``|``.  :func:`compile_invariant` parses such an expression once into
nested closures over the JSON data; anything outside the subset (type names, ``is``/``as``,
``ofType``, regexes, date/time or quantity comparison, string functions, ``%`` variables other
than ``%resource``/``%rootResource``) is not compiled and stays with the engine
(:func:`fhir_server.validation.invariants.holds`).  A value the compiled code cannot decide at
run time (a comparison of strings that may be dates, a singleton expected where there are
several items) raises :class:`Undecided` and the engine decides instead.

Semantics follow FHIRPath: collections everywhere, empty propagation, three-valued logic,
choice elements by their name (``value`` finds ``valueQuantity``), a primitive that only has
an ``_element`` (id, extensions) exists but has no value.  A test compares the compiled
closures with the engine on every element of every official R4 example.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from fhir_server.definitions.structures import structures

Collection = list
Env = dict
Fn = Callable[[Collection, Env], Collection]


class NotCompilable(Exception):
    """The expression uses FHIRPath outside the compiled subset."""


class Undecided(Exception):
    """At run time, the compiled code cannot decide (the engine must)."""


class _Extended:
    """A primitive element present only through its ``_element`` (no value): exists, no value."""

    __slots__ = ("element",)

    def __init__(self, element: object) -> None:
        self.element = element

    def __eq__(self, other: object) -> bool:
        raise Undecided

    __hash__ = None  # type: ignore[assignment]


# --- tokens -------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<special>\$this|\$index|\$total|%[A-Za-z_][A-Za-z0-9_]*|%`[^`]+`)
  | (?P<op><=|>=|!=|!~|[=~<>|+\-*/&.()\[\],{}])
""", re.VERBOSE | re.DOTALL)

_KEYWORD_OPS = {"and", "or", "xor", "implies", "in", "contains", "is", "as", "div", "mod"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise NotCompilable(f"cannot read {text[pos:pos + 10]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "ws":
            continue
        if kind == "ident" and value in _KEYWORD_OPS:
            kind = "op"
        out.append((kind, value))
    out.append(("end", ""))
    return out


# --- parser: precedence climbing, lowest first ---------------------------------------------
_BINARY = [("implies",), ("or", "xor"), ("and",), ("in", "contains"), ("=", "~", "!=", "!~"),
           ("<", ">", "<=", ">="), ("|",), ("is", "as"), ("+", "-", "&"), ("*", "/", "div", "mod")]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.pos]
        if value is not None and token[1] != value:
            raise NotCompilable(f"expected {value!r}, got {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Fn:
        fn = self.binary(0)
        if self.peek()[0] != "end":
            raise NotCompilable(f"unexpected {self.peek()[1]!r}")
        return fn

    def binary(self, level: int) -> Fn:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in _BINARY[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _operator(op, left, right)
        return left

    def unary(self) -> Fn:
        if self.peek() == ("op", "-") or self.peek() == ("op", "+"):
            raise NotCompilable("unary sign")
        return self.postfix(self.term())

    def term(self) -> Fn:
        kind, value = self.take()
        if kind == "string":
            text = _unescape(value[1:-1])

            def literal(_focus: Collection, _env: Env) -> Collection:
                return [text]
            _STRINGS[id(literal)] = (literal, text)
            return literal
        if kind == "number":
            number = float(value) if "." in value else int(value)
            return lambda _focus, _env: [number]
        if kind == "special":
            return _special(value)
        if (kind, value) == ("op", "("):
            inner = self.binary(0)
            self.take(")")
            return inner
        if (kind, value) == ("op", "{"):
            self.take("}")
            return lambda _focus, _env: []
        if kind == "ident":
            if value in ("true", "false"):
                flag = value == "true"
                return lambda _focus, _env: [flag]
            return self.invocation(value, _focus)
        raise NotCompilable(f"unexpected {value!r}")

    def postfix(self, fn: Fn) -> Fn:
        while True:
            if self.peek() == ("op", "."):
                self.take()
                kind, name = self.take()
                if kind != "ident":
                    raise NotCompilable(f"unexpected {name!r} after '.'")
                fn = self.invocation(name, fn)
            elif self.peek() == ("op", "["):
                raise NotCompilable("indexer")
            else:
                return fn

    def invocation(self, name: str, source: Fn) -> Fn:
        name = name.strip("`")
        if self.peek() == ("op", "("):
            self.take()
            args: list[Fn] = []
            while self.peek() != ("op", ")"):
                args.append(self.binary(0))
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return _function(name, source, args)
        if name[:1].isupper():
            raise NotCompilable(f"type name {name}")  # Patient.x, or a type specifier
        return _member(name, source)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def _special(name: str) -> Fn:
    if name == "$this":
        return lambda _focus, env: [env["this"]] if "this" in env else _focus
    if name == "%resource":
        return lambda _focus, env: [env["resource"]]
    if name == "%rootResource":
        return lambda _focus, env: [env["root"]]
    raise NotCompilable(name)


# --- navigation -----------------------------------------------------------------------------
@cache
def _type_suffixes() -> frozenset[str]:
    registry = structures()
    names = set(registry.resource_types)
    names.update(("String", "Boolean", "Integer", "Decimal", "Uri", "Url", "Canonical", "Base64Binary", "Instant",
                  "Date", "DateTime", "Time", "Code", "Oid", "Id", "Markdown", "UnsignedInt", "PositiveInt",
                  "Uuid", "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding",
                  "ContactPoint", "Count", "Distance", "Duration", "HumanName", "Identifier", "Money", "Period",
                  "Quantity", "Range", "Ratio", "Reference", "SampledData", "Signature", "Timing",
                  "ContactDetail", "Contributor", "DataRequirement", "Expression", "ParameterDefinition",
                  "RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage", "Meta"))
    return frozenset(names)


@cache
def _choice_names() -> frozenset[str]:
    return structures().choice_names()


def _children(item: object, name: str) -> list:
    if not isinstance(item, dict):
        return []
    if name in item:
        value = item[name]
        partner = item.get("_" + name)
        if isinstance(value, list):
            out = []
            for i, v in enumerate(value):
                if v is not None:
                    out.append(v)
                elif isinstance(partner, list) and i < len(partner) and partner[i] is not None:
                    out.append(_Extended(partner[i]))
            return out
        return [] if value is None else [value]
    if "_" + name in item:
        partner = item["_" + name]
        if isinstance(partner, list):
            return [_Extended(p) for p in partner if p is not None]
        return [_Extended(partner)] if partner is not None else []
    if name not in _choice_names():
        return []
    suffixes = _type_suffixes()
    for key, value in item.items():
        if key.startswith(name) and key[len(name):] in suffixes:
            return value if isinstance(value, list) else [value]
        if key.startswith("_" + name) and key[len(name) + 1:] in suffixes and key[1:] not in item:
            return [_Extended(value)]
    return []


def _focus(focus: Collection, _env: Env) -> Collection:
    """An identifier's input at the start of a path (``url`` in ``where(url = …)``)."""
    return focus


def _member(name: str, source: Fn) -> Fn:
    def member(focus: Collection, env: Env) -> Collection:
        out: list = []
        for item in source(focus, env):
            out.extend(_children(item, name))
        return out
    if source is _focus:
        _FIELDS[id(member)] = (member, name)
    return member


# --- values and logic ------------------------------------------------------------------------
def _truth(collection: Collection) -> bool | None:
    """Singleton evaluation of collections for boolean operators (fhirpath.html §4.5)."""
    if not collection:
        return None
    if len(collection) > 1:
        raise Undecided
    value = collection[0]
    return value if isinstance(value, bool) else True


def _result(value: bool | None) -> Collection:
    return [] if value is None else [value]


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return False if a is False and b is False else None


def _xor(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None or b is None else a != b


def _implies(a: bool | None, b: bool | None) -> bool | None:
    if a is False:
        return True
    if a is True:
        return b
    return True if b is True else None


_LOGIC = {"and": _and, "or": _or, "xor": _xor, "implies": _implies}


def _plain(value: object) -> object:
    """A value safe to compare with Python equality: strings that may be dates/times are not."""
    if isinstance(value, _Extended):
        raise Undecided
    if isinstance(value, str) and value[:1].isdigit() and ("-" in value or ":" in value):
        raise Undecided  # a date, dateTime, time or instant: precision and time zones matter
    if isinstance(value, float) or (isinstance(value, dict) and "value" in value and "unit" in value):
        raise Undecided  # decimal precision / quantities with units
    return value


_STRINGS: dict[int, tuple[Fn, str]] = {}  # the functions of string literals (kept alive here), by id
_FIELDS: dict[int, tuple[Fn, str]] = {}  # member functions of the input (``url``), by id
_FIELD_TESTS: dict[int, tuple[Fn, str, str, bool]] = {}  # ``url = 'text'`` / ``!=``: (fn, name, text, negated)


def _plain_string(fn: Fn) -> str | None:
    """The text of a string literal that compares with Python equality (not a date or time)."""
    hit = _STRINGS.get(id(fn))
    if hit is None or hit[0] is not fn:
        return None
    try:
        _plain(hit[1])
    except Undecided:
        return None
    return hit[1]


def _equal(a: Collection, b: Collection) -> bool | None:
    if not a or not b:
        return None
    if len(a) != len(b):
        return False
    return all(_plain(x) == _plain(y) for x, y in zip(a, b, strict=True))


def _compare(op: str, a: Collection, b: Collection) -> bool | None:
    if not a or not b:
        return None
    if len(a) > 1 or len(b) > 1:
        raise Undecided
    x, y = a[0], b[0]
    if type(x) is not int or type(y) is not int:
        raise Undecided  # strings, dates, decimals, quantities: the engine compares those
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def _union(a: Collection, b: Collection) -> Collection:
    out: list = []
    for item in (*a, *b):
        if not any(_same(item, seen) for seen in out):
            out.append(item)
    return out


def _same(x: object, y: object) -> bool:
    return _plain(x) == _plain(y) and type(x) is type(y)


def _operator(op: str, left: Fn, right: Fn) -> Fn:
    if op in _LOGIC:
        logic = _LOGIC[op]

        def boolean(focus: Collection, env: Env) -> Collection:
            return _result(logic(_truth(left(focus, env)), _truth(right(focus, env))))
        return boolean
    literal = _plain_string(right) if op in ("=", "!=") else None
    if literal is not None:
        negate, text = op == "!=", literal

        def equals_text(focus: Collection, env: Env) -> Collection:  # _equal with a string literal on the right
            a = left(focus, env)
            if not a:
                return []
            same = len(a) == 1 and _plain(a[0]) == text
            return [same != negate]
        field = _FIELDS.get(id(left))
        if field is not None and field[0] is left:
            _FIELD_TESTS[id(equals_text)] = (equals_text, field[1], text, negate)
        return equals_text
    if op in ("=", "!="):
        negate = op == "!="

        def equality(focus: Collection, env: Env) -> Collection:
            same = _equal(left(focus, env), right(focus, env))
            return _result(same if same is None or not negate else not same)
        return equality
    if op in ("<", ">", "<=", ">="):
        return lambda focus, env: _result(_compare(op, left(focus, env), right(focus, env)))
    if op == "|":
        return lambda focus, env: _union(left(focus, env), right(focus, env))
    if op in ("+", "&"):
        def plus(focus: Collection, env: Env) -> Collection:
            a, b = left(focus, env), right(focus, env)
            if op == "&":  # string concatenation: empty counts as ''
                a, b = a or [""], b or [""]
            if not a or not b:
                return []
            if len(a) > 1 or len(b) > 1:
                raise Undecided
            x, y = a[0], b[0]
            if type(x) is int and type(y) is int:
                return [x + y]
            if isinstance(x, str) and isinstance(y, str):
                return [x + y]
            raise Undecided
        return plus
    if op in ("in", "contains"):
        item_fn, coll_fn = (left, right) if op == "in" else (right, left)

        def membership(focus: Collection, env: Env) -> Collection:
            item = item_fn(focus, env)
            if not item:
                return []
            if len(item) > 1:
                raise Undecided
            return [any(_same(item[0], other) for other in coll_fn(focus, env))]
        return membership
    raise NotCompilable(f"operator {op}")


# --- functions ---------------------------------------------------------------------------------
def _function(name: str, source: Fn, args: list[Fn]) -> Fn:
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
        field_test = _FIELD_TESTS.get(id(args[0]))
        if field_test is not None and field_test[0] is args[0]:
            return _where_field(source, field_test[1], field_test[2], field_test[3])
        return lambda focus, env: _where(source(focus, env), args[0], env)
    if name == "all" and arity == 1:
        return lambda focus, env: [all(_criterion(item, args[0], env) is True for item in source(focus, env))]
    if name == "hasValue" and arity == 0:
        def has_value(focus: Collection, env: Env) -> Collection:
            value = source(focus, env)
            return [len(value) == 1 and not isinstance(value[0], (dict, list, _Extended))]
        return has_value
    if name == "first" and arity == 0:
        return lambda focus, env: source(focus, env)[:1]
    if name == "isDistinct" and arity == 0:
        return lambda focus, env: [len(_union(source(focus, env), [])) == len(source(focus, env))]
    if name == "distinct" and arity == 0:
        return lambda focus, env: _union(source(focus, env), [])
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
            if _truth(args[0](focus, env)) is True:
                return args[1](focus, env)
            return args[2](focus, env) if arity == 3 else []
        return iif
    if name == "trace":
        return source  # trace(name[, projection]) is the identity (and prints nothing here)
    if name == "intersect" and arity == 1:
        def intersect(focus: Collection, env: Env) -> Collection:
            other = args[0](focus, env)
            return _union([x for x in source(focus, env) if any(_same(x, y) for y in other)], [])
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
            kids.extend(_children(item, key))
        out.extend(kids)
        if deep:
            stack.extend(reversed(kids))
    return out


def _criterion(item: object, criteria: Fn, env: Env) -> bool | None:
    return _truth(criteria([item], {**env, "this": item}))


def _where_field(source: Fn, name: str, text: str, negate: bool) -> Fn:
    """``where(name = 'text')`` (or ``!=``): :func:`_where` with the criterion's member and
    comparison done in place, the same answers (an item without the field is left out)."""
    def where_field(focus: Collection, env: Env) -> Collection:
        out = []
        for item in source(focus, env):
            values = _children(item, name)
            if values and ((len(values) == 1 and _plain(values[0]) == text) != negate):
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
        if _truth(criteria([item], inner)) is True:
            out.append(item)
    return out


# --- entry point -------------------------------------------------------------------------------
@cache
def compile_invariant(expression: str) -> Callable[[object, object, object], bool | None] | None:
    """A function (node, resource, root) -> True / False / None (undecided), or None when the
    expression is outside the compiled subset."""
    try:
        fn = _Parser(expression).parse()
    except NotCompilable:
        return None

    def check(node: object, resource: object, root: object) -> bool | None:
        try:
            result = fn([node], {"resource": resource, "root": root})
        except (Undecided, RecursionError):
            return None
        if result == [] or result == [True]:
            return True
        if result == [False]:
            return False
        return None

    return check
