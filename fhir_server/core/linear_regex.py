"""Regular expressions whose cost is linear in the input: RE2 (google-re2).

Python's ``re`` backtracks: ``(a+)+$`` on 28 ``a`` and a ``!`` takes seconds and doubles with
every character, and a pattern like R4's base64 grammar grows with the cube of a run of spaces.
Every regular expression that comes from outside the code (FHIRPath ``matches()`` and
``replaceMatches()`` in invariants, profiles, search parameters and FHIRPath Patch; the
``$expand`` regex filter) is compiled here.  RE2 answers in time linear in the text for any
pattern; it refuses what needs backtracking (back-references, look-around), which is reported
as an invalid pattern.

Fallback, when google-re2 is not installed (no wheel for the platform): Python's ``re`` with
two bounds (``docs/decisions.md`` "Regular expressions run on a linear-time engine"):

- patterns whose backtracking can blow up are refused: a repeat inside a repeat (``(a+)+``,
  ``(\\s*x)+``), an alternation inside a repeat (``(a|a)*``), back-references and look-around;
- the text is cut off at :data:`FALLBACK_MAX_TEXT` characters: what is left (a single level of
  repeats, ``a*a*a*b``) is polynomial, and bounded by that length.

The server's own fixed patterns (the R4 primitives in :mod:`fhir_server.validation.primitives`)
are hand-checked to be linear under ``re`` and do not need this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

try:  # pragma: no cover - which branch runs depends on the platform
    import re2 as _re2
except ImportError:  # pragma: no cover
    _re2 = None

ENGINE = "re2" if _re2 is not None else "re (bounded)"
LINEAR = _re2 is not None
FALLBACK_MAX_TEXT = 4096
MAX_PATTERN = 4096


class RegexError(ValueError):
    """A pattern that cannot be compiled (bad syntax, or a construct a linear engine refuses)."""


class Pattern:
    """A compiled pattern with the three operations the server needs."""

    def __init__(self, pattern: str, compiled: Any, linear: bool) -> None:
        self.pattern = pattern
        self.compiled = compiled
        self.linear = linear

    def _text(self, text: str) -> str:
        return text if self.linear else text[:FALLBACK_MAX_TEXT]

    def search(self, text: str) -> bool:
        return self.compiled.search(self._text(text)) is not None

    def fullmatch(self, text: str) -> bool:
        return self.compiled.fullmatch(self._text(text)) is not None

    def sub(self, replacement: str | Callable, text: str) -> str:
        return self.compiled.sub(replacement, self._text(text))


@lru_cache(maxsize=1024)
def compile_linear(pattern: str, dotall: bool = False) -> Pattern:
    """``pattern`` compiled on the linear engine; :class:`RegexError` if it cannot be."""
    if not isinstance(pattern, str):
        raise RegexError("A regular expression must be a string")
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"Regular expression longer than {MAX_PATTERN} characters")
    if _re2 is not None:
        options = _re2.Options()
        options.log_errors = False
        options.dot_nl = dotall
        try:
            return Pattern(pattern, _re2.compile(pattern, options), linear=True)
        except Exception as exc:  # noqa: BLE001 - re2 raises its own error class (and TypeError for bad input)
            raise RegexError(f"Invalid regular expression {pattern!r} (RE2 syntax: no back-references or "
                             f"look-around): {_message(exc)}") from None
    return Pattern(pattern, _bounded_re(pattern, dotall), linear=False)


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


# -- fallback: Python's re, refusing the shapes that backtrack without bound ----------------------
def _bounded_re(pattern: str, dotall: bool) -> re.Pattern:
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]  # the stdlib's own parser
        compiled = re.compile(pattern, re.DOTALL if dotall else 0)
    except re.error as exc:
        raise RegexError(f"Invalid regular expression {pattern!r}: {exc}") from None
    problem = _backtracking_shape(parsed, in_repeat=False)
    if problem:
        raise RegexError(f"Regular expression {pattern!r} refused: {problem} can take exponential time")
    return compiled


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _backtracking_shape(items: Any, in_repeat: bool) -> str | None:
    for op, arg in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "a back-reference"
        if name in ("ASSERT", "ASSERT_NOT"):
            return "a look-around"
        if name in _REPEATS:
            low, high, body = arg
            if in_repeat and high != low:
                return "a repeat inside a repeat"
            found = _backtracking_shape(body, in_repeat or high != low)
            if found:
                return found
        elif name == "SUBPATTERN":
            found = _backtracking_shape(arg[-1], in_repeat)
            if found:
                return found
        elif name == "BRANCH":
            if in_repeat:
                return "an alternation inside a repeat"
            for branch in arg[1]:
                found = _backtracking_shape(branch, in_repeat)
                if found:
                    return found
        elif name == "ATOMIC_GROUP":
            found = _backtracking_shape(arg, in_repeat)
            if found:
                return found
    return None
