"""Parse the FHIRPath subset that FHIRPath Patch paths use (FHIR R4 fhirpatch.html, "path").

A patch path must point at concrete elements, so in practice it is a chain of element
names with indexers and filters: ``Patient.identifier.where(use = 'official').period``,
``Patient.contact[0].name``, ``Observation.value.ofType(Quantity)``.  This module only
splits such a chain into steps; :mod:`fhir_server.patch.locate` walks the resource with
them, and ``where(...)`` criteria stay raw text for fhirpathpy to evaluate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fhir_server.core.errors import BadRequest

# Functions that narrow a selection without leaving it; anything else cannot name an
# element to modify and is refused rather than guessed at.
FUNCTIONS = frozenset({"where", "first", "last", "tail", "skip", "take", "ofType", "extension"})
_NAME = re.compile(r"`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*)")
_INDEX = re.compile(r"\[\s*(\d+)\s*\]")


@dataclass(frozen=True, slots=True)
class Step:
    """One ``.``-separated step: an element name or a function call, then any ``[n]`` indexers."""

    name: str
    call: bool = False
    arg: str | None = None  # raw argument text of a function call
    indexes: tuple[int, ...] = ()


def parse_path(path: str) -> list[Step]:
    """Split ``path`` into steps, or raise 400 naming what is not supported."""
    steps: list[Step] = []
    pos, text = 0, path.strip()
    while True:
        step, pos = _step(text, pos, path)
        steps.append(step)
        if pos == len(text):
            return steps
        if text[pos] != ".":
            raise _unsupported(path, f"unexpected {text[pos]!r} at position {pos}")
        pos += 1


def _step(text: str, pos: int, path: str) -> tuple[Step, int]:
    match = _NAME.match(text, pos)
    if match is None:
        raise _unsupported(path, f"expected an element name at position {pos}")
    name, pos = match.group(1) or match.group(2), match.end()
    call, arg = False, None
    if pos < len(text) and text[pos] == "(":
        if name not in FUNCTIONS:
            raise _unsupported(path, f"function {name}() cannot select an element to patch")
        end = _closing_paren(text, pos, path)
        call, arg, pos = True, text[pos + 1 : end].strip(), end + 1
    indexes = []
    while (index := _INDEX.match(text, pos)) is not None:
        indexes.append(int(index.group(1)))
        pos = index.end()
    return Step(name, call, arg, tuple(indexes)), pos


def _closing_paren(text: str, start: int, path: str) -> int:
    """Index of the ``)`` matching ``text[start]``, skipping quoted strings and escapes."""
    depth, quote, i = 0, None, start
    while i < len(text):
        ch = text[i]
        if quote and ch == "\\":
            i += 1  # an escaped character never closes the string
        elif quote:
            quote = None if ch == quote else quote
        elif ch in "'`\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise _unsupported(path, "unbalanced parentheses")


def _unsupported(path: str, why: str) -> BadRequest:
    return BadRequest(f"Unsupported FHIRPath Patch path {path!r}: {why}")
