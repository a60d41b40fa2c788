"""JSON in and out with orjson, with the guards bad input needs (FHIR R4 §json; SPEC §6).

Invalid UTF-8, malformed JSON and documents nested deeper than the configured limit become a
400 OperationOutcome before anything else looks at them.

Decimals keep their text (:mod:`fhir_server.core.decimals`): orjson parses every number to a
float, so a body with a decimal whose float would print differently (``1.50``, ``1e2``,
``3.14159265358979323846264338``) is parsed once more by the standard library with the decimal
kept as a :class:`FhirDecimal`; :func:`dumps` writes that text back verbatim.  A body without
such a number costs one regular-expression scan over its bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from fhir_server.core.decimals import FhirDecimal, exact_number, keeps_text
from fhir_server.core.errors import BadRequest

DEFAULT_MAX_DEPTH = 64

# A JSON number with a fraction or an exponent: where a value starts, up to where a value ends
# (a match inside a string only costs a second parse, never a wrong value).
_DECIMAL_TOKEN = re.compile(rb"[:,\[]\s*(-?\d+(?:\.\d+(?:[eE][-+]?\d+)?|[eE][-+]?\d+))(?=[\s,}\]])")


def loads(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        code = "structure"
        if "UTF-8" in reason or "utf-8" in reason:
            raise BadRequest(f"The body is not valid UTF-8: {reason}", code=code) from None
        raise BadRequest(f"The body is not valid JSON: {reason}", code=code) from None
    check_depth(value, max_depth)
    return _with_exact_decimals(data, value)


def loads_exact(data: bytes | str) -> Any:
    """Parse JSON known to hold decimals with their own text (no guards: JSON this server wrote)."""
    return json.loads(data, parse_float=exact_number)


def _with_exact_decimals(data: bytes | str, value: Any) -> Any:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if all(keeps_text(m.decode("ascii")) for m in _DECIMAL_TOKEN.findall(raw)):
        return value
    return loads_exact(raw)


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse documents nested deeper than ``max_depth`` (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(f"The body is nested deeper than the limit of {max_depth} levels", code="too-costly")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))


@dataclass(frozen=True, slots=True)
class Frozen:
    """A JSON value as bytes, to thaw into fresh copies (a memo that hands out copies)."""

    data: bytes
    exact: bool  # it holds decimals with their own text

    def thaw(self) -> Any:
        return loads_exact(self.data) if self.exact else orjson.loads(self.data)


def freeze(value: Any) -> Frozen:
    data, exact = dumps_noting_decimals(value)
    return Frozen(data, exact)


def dumps_noting_decimals(value: Any) -> tuple[bytes, bool]:
    """:func:`dumps`, and whether a decimal with its own text was written."""
    seen: list[bool] = []

    def exact(number: object) -> orjson.Fragment:
        seen.append(True)
        return _exact(number)

    return orjson.dumps(value, default=exact), bool(seen)


def dumps(value: Any, pretty: bool = False, sort_keys: bool = False) -> bytes:
    option = (orjson.OPT_INDENT_2 if pretty else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, default=_exact, option=option)


def _exact(value: object) -> orjson.Fragment:
    """orjson's hook for what it cannot write itself: a decimal goes out as it came in."""
    if isinstance(value, FhirDecimal):
        return orjson.Fragment(value.text)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")
