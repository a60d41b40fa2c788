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

Here: the tokens, the parser and :func:`compile_invariant`; the values and operators are in
:mod:`.invariant_values`, the functions in :mod:`.invariant_functions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from fhir_server.validation.invariant_functions import function_of
from fhir_server.validation.invariant_values import (
    STRINGS,
    Collection,
    Env,
    Fn,
    NotCompilable,
    Undecided,
    focus_input,
    member_of,
    operator_of,
)

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
            left = operator_of(op, left, right)
        return left

    def unary(self) -> Fn:
        if self.peek() == ("op", "-") or self.peek() == ("op", "+"):
            raise NotCompilable("unary sign")
        return self.postfix(self.term())

    def term(self) -> Fn:
        kind, value = self.take()
        if kind == "string":
            text = _unescape(value[1:-1])

            def literal(focus_input: Collection, _env: Env) -> Collection:
                return [text]
            STRINGS[id(literal)] = (literal, text)
            return literal
        if kind == "number":
            number = float(value) if "." in value else int(value)
            return lambda focus_input, _env: [number]
        if kind == "special":
            return _special(value)
        if (kind, value) == ("op", "("):
            inner = self.binary(0)
            self.take(")")
            return inner
        if (kind, value) == ("op", "{"):
            self.take("}")
            return lambda focus_input, _env: []
        if kind == "ident":
            if value in ("true", "false"):
                flag = value == "true"
                return lambda focus_input, _env: [flag]
            return self.invocation(value, focus_input)
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
            return function_of(name, source, args)
        if name[:1].isupper():
            raise NotCompilable(f"type name {name}")  # Patient.x, or a type specifier
        return member_of(name, source)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def _special(name: str) -> Fn:
    if name == "$this":
        return lambda focus_input, env: [env["this"]] if "this" in env else focus_input
    if name == "%resource":
        return lambda focus_input, env: [env["resource"]]
    if name == "%rootResource":
        return lambda focus_input, env: [env["root"]]
    raise NotCompilable(name)


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
