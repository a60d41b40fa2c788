"""FHIRPath as the server evaluates it (FHIRPath N1 / R4 fhirpath.html): fhirpathpy with the R4
model, and the fixes the server needs on top of it.

Every FHIRPath the server runs (invariants, search parameter expressions, FHIRPath Patch
criteria) goes through :func:`evaluate` on an expression parsed once by :func:`compiled`.
fhirpathpy is used as it is, except for a few entries of its invocation table that this module
supplies in the evaluation context (no monkey-patching):

- **date/time comparisons.**  fhirpathpy compares FHIR ``date``/``dateTime``/``instant``
  *elements* as strings, so ``10:00+08:00 <= 03:00Z`` was false.  Here the comparison operators
  (``= != ~ !~ < <= > >=``) first turn an element typed date, dateTime, instant or time by the
  R4 model into a FHIRPath DateTime/Time, so values are compared as instants with their
  precision (FHIRPath §5.1 / §6.2: at different precisions the answer may be empty, unknown).
- **type names at the root.**  ``Appointment.status`` on an Appointment: fhirpathpy resolves the
  leading type name only on a plain resource, not on a typed node, so a resource root is
  handed over as the JSON object itself.
- **regular expressions.**  ``matches()``, ``replaceMatches()`` and ``matchesFull()`` run on the
  linear-time engine of :mod:`fhir_server.core.linear_regex` (RE2), never on backtracking
  ``re``: a pattern in a stored SearchParameter or a FHIRPath Patch cannot freeze a worker.
  A pattern RE2 refuses is an evaluation error (:class:`FhirPathError`).
- ``hasValue()`` (missing from fhirpathpy 2.2).
- ``trace()`` never prints on the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from antlr4.tree.Tree import ParseTreeWalker
from fhirpathpy.engine import do_eval, util
from fhirpathpy.engine.invocations import equality
from fhirpathpy.engine.invocations import invocation_registry as base_invocation_registry
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.invocations.strings import ensure_string_singleton
from fhirpathpy.engine.nodes import FP_DateTime, FP_Time, FP_Type, ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fhir_server.core.linear_regex import RegexError, compile_linear

MODEL = models["r4"]
_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
UCUM = "http://unitsofmeasure.org"


class FhirPathError(ValueError):
    """An expression the engine cannot parse or accept, or a regular expression in it that the
    linear-time engine refuses."""


class _Refuse(ErrorListener):
    def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
        raise FhirPathError(f"FHIRPath syntax error at {line}:{column}: {msg}")


@cache
def compiled(expression: str) -> dict:
    """The parse tree of ``expression`` (cached per process); :class:`FhirPathError` if it does not
    parse.  fhirpathpy's own ``parse`` recovers from syntax errors silently and stops at the first
    token it cannot use (``name.where(`` and ``a b`` "parse"); here the grammar is applied strictly
    and the whole text must be one expression."""
    try:
        lexer = FHIRPathLexer(InputStream(expression))
        lexer.removeErrorListeners()
        lexer.addErrorListener(_Refuse())
        tokens = CommonTokenStream(lexer)
        parser = FHIRPathParser(tokens)
        parser.buildParseTrees = True
        parser.removeErrorListeners()
        parser.addErrorListener(_Refuse())
        tree = parser.expression()
        if tokens.LA(1) != Token.EOF:
            raise FhirPathError(f"FHIRPath syntax error: unexpected {tokens.LT(1).text!r} after the expression")
        listener = ASTPathListener()
        ParseTreeWalker().walk(listener, tree)
        return listener.parentStack[0]
    except FhirPathError:
        raise
    except Exception as exc:
        raise FhirPathError(f"FHIRPath expression does not parse: {exc}") from exc


def _typed(items: Any) -> Any:
    """Date, dateTime, instant and time elements as FHIRPath DateTime/Time values."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, ResourceNode):
            data = item.data
            if isinstance(data, str) and item.path in _DATE_TYPES:
                item = FP_DateTime(data) or item
            elif isinstance(data, str) and item.path == "time":
                item = FP_Time(data) or item
        out.append(item)
    return out


# FHIR date/dateTime/instant text: a time always has seconds and a zone (R4 datatypes.html)
_FHIR_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)"
                        r"(Z|[+-]\d{2}:\d{2}))?)?)?")
_UNKNOWN = object()


@cache
def _moment(text: str) -> tuple[tuple[int, ...], datetime | None] | None:
    """``(date parts, UTC instant or None)`` of a FHIR date/dateTime/instant string, or None."""
    match = _FHIR_DATE.fullmatch(text)
    if match is None:
        return None
    y, m, d, hh, mm, ss, tz = match.groups()
    parts = tuple(int(v) for v in (y, m, d) if v is not None)
    if hh is None:
        return parts, None
    try:
        moment = datetime.fromisoformat(f"{y}-{m}-{d}T{hh}:{mm}:{ss}{'+00:00' if tz == 'Z' else tz}")
    except ValueError:
        return None
    return parts, moment.astimezone(UTC)


def _element_order(left: list, right: list) -> object:
    """The order of two date/time *elements* (-1, 0, 1), None when unknown (different precision,
    equal as far as both go), or _UNKNOWN when this fast path does not apply (literals, other types).
    fhirpathpy's own comparison parses both sides with dateutil on every call; per-1 runs on every
    Period written, so the plain R4 shapes are compared here."""
    if len(left) != 1 or len(right) != 1:
        return _UNKNOWN
    a, b = left[0], right[0]
    if not (isinstance(a, ResourceNode) and isinstance(b, ResourceNode) and a.path in _DATE_TYPES
            and b.path in _DATE_TYPES and isinstance(a.data, str) and isinstance(b.data, str)):
        return _UNKNOWN
    ma, mb = _moment(a.data), _moment(b.data)
    if ma is None or mb is None:
        return _UNKNOWN
    (pa, ta), (pb, tb) = ma, mb
    if ta is not None and tb is not None:
        return (ta > tb) - (ta < tb)
    common = min(len(pa), len(pb))
    order = (pa[:common] > pb[:common]) - (pa[:common] < pb[:common])
    if order:
        return order
    return 0 if len(pa) == len(pb) and ta is None and tb is None else None


_ORDERED = {
    "<": lambda o: o < 0, "<=": lambda o: o <= 0, ">": lambda o: o > 0, ">=": lambda o: o >= 0,
    "=": lambda o: o == 0, "!=": lambda o: o != 0,
}


def _comparison(fn: Callable, symbol: str | None = None) -> Callable:
    def compare(ctx: dict, left: list, right: list) -> Any:
        if symbol is not None:
            order = _element_order(equality.remove_duplicate_extension(left),
                                   equality.remove_duplicate_extension(right))
            if order is not _UNKNOWN:
                return [] if order is None else [_ORDERED[symbol](order)]
        return fn(ctx, _typed(left), _typed(right))
    return compare


def _same_instant(left: list, right: list) -> bool | None:
    """``=`` on two date/times: equal, different, or None (unknown) when they differ in precision
    and agree as far as both go (FHIRPath §6.1.1: ``@2012-04-15 = @2012-04-15T10:00:00Z`` is empty)."""
    a, b = util.get_data(left[0]), util.get_data(right[0])
    try:
        order = a.compare(b)
    except Exception:  # noqa: BLE001 - dates fhirpathpy cannot align are left to its own equality
        return a.equals(b)
    return None if order is None else order == 0


def _equality(negate: bool) -> Callable:
    base = equality.unequal if negate else equality.equal

    def compare(ctx: dict, left: list, right: list) -> Any:
        order = _element_order(equality.remove_duplicate_extension(left), equality.remove_duplicate_extension(right))
        if order is not _UNKNOWN:
            return [] if order is None else [(order == 0) != negate]
        left = _typed(equality.remove_duplicate_extension(left))
        right = _typed(equality.remove_duplicate_extension(right))
        if (len(left) == 1 == len(right) and type(util.get_data(left[0])) is type(util.get_data(right[0]))
                and isinstance(util.get_data(left[0]), (FP_DateTime, FP_Time))):
            same = _same_instant(left, right)
            return [] if same is None else [same != negate]
        return base(ctx, left, right)
    return compare


def _has_value(ctx: dict, inputs: list) -> list[bool]:
    data = [util.get_data(i) for i in inputs]
    return [len(data) == 1 and data[0] is not None and not isinstance(data[0], (dict, list))]


def _pattern(regex: object, dotall: bool = False) -> Any:
    try:
        return compile_linear(regex, dotall)  # type: ignore[arg-type]
    except RegexError as exc:
        raise FhirPathError(str(exc)) from None


def _matches(ctx: dict, inputs: list, regex: str) -> Any:
    """R4 fhirpath.html#functions "matches": the regex matches somewhere in the string."""
    if not regex or not inputs:
        return []
    return _pattern(regex, dotall=True).search(ensure_string_singleton(inputs))


def _matches_full(ctx: dict, inputs: list, regex: str) -> Any:
    if not regex or not inputs:
        return []
    return _pattern(regex, dotall=True).fullmatch(ensure_string_singleton(inputs))


_GROUP = re.compile(r"\$(\d+)")  # fixed and linear: a "$" and digits


def _replace_matches(ctx: dict, inputs: list, regex: str, substitution: str) -> Any:
    """``$1`` in the substitution is the first group; an empty pattern changes nothing."""
    text = ensure_string_singleton(inputs)
    if not isinstance(regex, str) or not isinstance(substitution, str):
        return []
    if regex == "":
        return text
    parts = _GROUP.split(substitution)  # text, group number, text, ...

    def expand(match: Any) -> str:
        return "".join(part if i % 2 == 0 else (match.group(int(part)) or "") for i, part in enumerate(parts))

    return _pattern(regex).sub(expand, text)


def _trace(ctx: dict, inputs: list, *_args: Any) -> list:
    return inputs


def _operator(fn: Callable, symbol: str) -> dict:
    return {"fn": _comparison(fn, symbol), "arity": {2: ["Any", "Any"]}, "nullable": True}


INVOCATIONS: dict[str, dict] = {
    "=": {"fn": _equality(negate=False), "arity": {2: ["Any", "Any"]}, "nullable": True},
    "!=": {"fn": _equality(negate=True), "arity": {2: ["Any", "Any"]}, "nullable": True},
    "<": _operator(equality.lt, "<"),
    ">": _operator(equality.gt, ">"),
    "<=": _operator(equality.lte, "<="),
    ">=": _operator(equality.gte, ">="),
    "~": {"fn": _comparison(equality.equival), "arity": {2: ["Any", "Any"]}},
    "!~": {"fn": _comparison(equality.unequival), "arity": {2: ["Any", "Any"]}},
    "matches": {"fn": _matches, "arity": {1: ["String"]}, "nullable_input": True},
    "matchesFull": {"fn": _matches_full, "arity": {1: ["String"]}, "nullable_input": True},
    "replaceMatches": {"fn": _replace_matches, "arity": {2: ["String", "String"]}, "nullable_input": True},
    "hasValue": {"fn": _has_value},
    "trace": {"fn": _trace, "arity": {0: [], 1: ["String"], 2: ["String", "Expr"]}},
}


def root_node(node: object, type_name: str | None) -> object:
    """What to evaluate on: a resource as its JSON object, anything else typed by ``type_name``."""
    if isinstance(node, Mapping) and "resourceType" in node or type_name is None:
        return node
    return ResourceNode.create_node(node, type_name)


def evaluate(node: object, expression: str, type_name: str | None = None,
             variables: Mapping[str, object] | None = None) -> list:
    """The values of ``expression`` on ``node`` (plain JSON values, Decimal for decimals, FHIRPath
    date/time/quantity objects for literals), evaluated with the R4 model.

    ``type_name`` is the FHIR type or element path of ``node`` when it is not a resource
    (``Period``, ``Patient.contact``).  Raises :class:`FhirPathError` for syntax errors and
    whatever fhirpathpy raises for what it cannot evaluate.
    """
    tree = compiled(expression)
    start = root_node(node, type_name)
    constants.reset()
    root = util.arraify(start)
    ctx = {
        "dataRoot": root,
        "vars": {"context": start, "ucum": UCUM, **(variables or {})},
        "model": MODEL,
        "userInvocationTable": INVOCATIONS,
    }
    return _plain(do_eval(ctx, root, tree["children"][0]))


def _plain(result: Any) -> list:
    out = []
    for item in util.arraify(result):
        data = util.get_data(item)
        if isinstance(data, dict) and not isinstance(data, FP_Type) and list(data) == ["extension"]:
            continue  # fhirpathpy's stand-in for a primitive's extensions without a value
        out.append(data)
    return out


# -- acceptance of an expression that will run on other people's data ------------------------------
MAX_EXPRESSION = 4096
_REGEX_FUNCTIONS = frozenset({"matches", "matchesFull", "replaceMatches"})
# resolve(), memberOf(), conformsTo(), htmlChecks() are known to FHIR; the server answers them
# itself or skips the expression knowingly (search rewrites ``where(resolve() is X)``)
_FHIR_FUNCTIONS = frozenset({"resolve", "memberOf", "conformsTo", "htmlChecks", "hasValue"})


def check_expression(expression: str) -> None:
    """Accept an expression that the server will evaluate on every write (a SearchParameter's), or
    raise :class:`FhirPathError` saying why not: it must parse strictly, be at most
    :data:`MAX_EXPRESSION` characters, call only functions the engine has, and every regular
    expression given as a literal must compile on the linear-time engine.  Evaluation cost is then
    bounded by the engine: regular expressions run in linear time (:mod:`.linear_regex`)."""
    if not isinstance(expression, str) or not expression.strip():
        raise FhirPathError("The FHIRPath expression is empty")
    if len(expression) > MAX_EXPRESSION:
        raise FhirPathError(f"The FHIRPath expression is longer than {MAX_EXPRESSION} characters")
    tree = compiled(expression)
    known = set(base_invocation_registry) | set(INVOCATIONS) | _FHIR_FUNCTIONS
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("type") == "Functn":
            name_node, *params = node.get("children", [])
            name = name_node.get("text")
            if name not in known:
                raise FhirPathError(f"Unknown FHIRPath function {name}()")
            if name in _REGEX_FUNCTIONS and params:
                first = params[0].get("children", [None])[0]
                literal = _string_literal(first)
                if literal is not None:
                    _pattern(literal, dotall=name != "replaceMatches")
        stack.extend(node.get("children", []))


def _string_literal(node: dict | None) -> str | None:
    """The value of a parameter that is a plain string literal (``'a\\\\d'`` → ``a\\d``), else None."""
    while node is not None and node.get("type") in ("TermExpression", "LiteralTerm"):
        node = (node.get("children") or [None])[0]
    if node is None or node.get("type") != "StringLiteral":
        return None
    return _unescape(node["text"][1:-1])


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPED = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        code = match.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPED.get(code, code)
    return _ESCAPE.sub(one, text)
