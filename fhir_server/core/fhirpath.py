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
- ``hasValue()`` (missing from fhirpathpy 2.2).
- ``trace()`` never prints on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from antlr4.tree.Tree import ParseTreeWalker
from fhirpathpy.engine import do_eval, util
from fhirpathpy.engine.invocations import equality
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import FP_DateTime, FP_Time, FP_Type, ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

MODEL = models["r4"]
_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
UCUM = "http://unitsofmeasure.org"


class FhirPathError(ValueError):
    """An expression the engine cannot parse."""


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


def _comparison(fn: Callable) -> Callable:
    def compare(ctx: dict, left: list, right: list) -> Any:
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


def _trace(ctx: dict, inputs: list, *_args: Any) -> list:
    return inputs


def _operator(fn: Callable) -> dict:
    return {"fn": _comparison(fn), "arity": {2: ["Any", "Any"]}, "nullable": True}


INVOCATIONS: dict[str, dict] = {
    "=": {"fn": _equality(negate=False), "arity": {2: ["Any", "Any"]}, "nullable": True},
    "!=": {"fn": _equality(negate=True), "arity": {2: ["Any", "Any"]}, "nullable": True},
    "<": _operator(equality.lt),
    ">": _operator(equality.gt),
    "<=": _operator(equality.lte),
    ">=": _operator(equality.gte),
    "~": {"fn": _comparison(equality.equival), "arity": {2: ["Any", "Any"]}},
    "!~": {"fn": _comparison(equality.unequival), "arity": {2: ["Any", "Any"]}},
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
