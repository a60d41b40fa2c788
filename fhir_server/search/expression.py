"""Search parameter expressions, compiled once per (expression, resource type).

Most R4 expressions are unions of simple paths (``Patient.name | Person.name``,
``(Observation.value as Quantity)``, ``Account.subject.where(resolve() is Patient)``).  Those
compile to a list of typed steps walked directly over the JSON, which also tells each value's
FHIR type (so a token knows an Identifier from a Coding).  Anything else goes to fhirpathpy,
compiled once; ``resolve() is T`` becomes a test on the reference text, since there is no
resolver at index time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir_server.core.fhirpath import FhirPathError, compiled, evaluate
from fhir_server.definitions.structures import structures

Node = tuple[Any, str | None]  # (JSON value, FHIR type code when known)

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP = re.compile(
    rf"(?P<name>{_IDENT})"
    rf"|(?:as|ofType)\((?P<cast>{_IDENT})\)"
    rf"|where\(resolve\(\) is (?P<resolve>{_IDENT})\)"
    rf"|where\((?P<field>{_IDENT})\s*=\s*'(?P<literal>[^']*)'\)"
)
_AS_SUFFIX = re.compile(rf"^(?P<path>.+?)\s+as\s+(?P<type>{_IDENT})$")
_RESOLVE = re.compile(rf"where\(resolve\(\) is ({_IDENT})\)")


def split_union(expression: str) -> list[str]:
    """Top-level ``|`` alternatives, outer parentheses removed."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(expression):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        elif not quoted and depth == 0 and ch == "|":
            parts.append(expression[start:i])
            start = i + 1
    parts.append(expression[start:])
    return [_flatten_group(_strip_parens(p.strip())) for p in parts if p.strip()]


def _strip_parens(text: str) -> str:
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _flatten_group(text: str) -> str:
    """``(A.b.ofType(T)).c`` → ``A.b.ofType(T).c``: a leading group followed by more path."""
    if not text.startswith("("):
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            rest = text[i + 1:]
            return text[1:i] + rest if rest.startswith(".") else text
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _split_dots(path: str) -> list[str] | None:
    steps, depth, start = [], 0, 0
    for i, ch in enumerate(path):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "." and depth == 0:
            steps.append(path[start:i])
            start = i + 1
    steps.append(path[start:])
    return steps if all(steps) else None


@dataclass(frozen=True, slots=True)
class _Step:
    keys: tuple[tuple[str, str], ...] = ()  # (json key, type code) for a child step
    where: tuple[str, str] | None = None  # (field, literal)
    resolve: str | None = None  # resource type a reference must point to
    cast: str | None = None  # keep only values of this type


def _compile_path(path: str, start: str) -> tuple[list[_Step], str | None] | None:
    """Steps for a simple path from type/backbone path ``start``; None when not simple."""
    match = _AS_SUFFIX.match(path)
    if match:
        path = f"{match['path']}.as({match['type']})"
    parts = _split_dots(path)
    if parts is None:
        return None
    steps: list[_Step] = []
    current: str | None = start
    for part in parts:
        m = _STEP.fullmatch(part)
        if m is None or current is None and m["name"]:
            return None
        if m["name"]:
            step, current = _child(current, m["name"])
            if step is None:
                return None
            steps.append(step)
        elif m["cast"]:
            if not steps or not steps[-1].keys:
                return None
            # R4's code-value-date says ofType(DateTime) (the FHIRPath name) for FHIR's dateTime
            keys = tuple(k for k in steps[-1].keys if k[1] == m["cast"]) or tuple(
                k for k in steps[-1].keys if k[1].lower() == m["cast"].lower())
            steps[-1] = _Step(keys=keys)
            current = keys[0][1] if keys else None
            current = _children_path(current) if current else None
        elif m["resolve"]:
            steps.append(_Step(resolve=m["resolve"]))
        else:
            steps.append(_Step(where=(m["field"], m["literal"])))
    return steps, current


def _child(parent: str | None, name: str) -> tuple[_Step | None, str | None]:
    if parent is None:
        return None, None
    children = structures().children(parent)
    element = children.get(name) or children.get(name + "[x]")
    if element is None:
        return None, None
    if element.is_choice:
        keys = tuple((element.base_name + t[0].upper() + t[1:], t) for t in element.types)
        return _Step(keys=keys), None
    type_code = element.types[0] if element.types else ""
    return _Step(keys=((name, type_code),)), element.children_path(type_code) if type_code else element.ref


def _children_path(type_code: str) -> str:
    return type_code


def _walk(steps: list[_Step], start: Node) -> list[Node]:
    nodes = [start]
    for step in steps:
        if step.keys:
            nodes = [hit for value, _ in nodes if isinstance(value, dict) for hit in _get(value, step.keys)]
        elif step.resolve:
            nodes = [n for n in nodes if _points_to(n[0], step.resolve)]
        elif step.where:
            field, literal = step.where
            nodes = [n for n in nodes if isinstance(n[0], dict) and n[0].get(field) == literal]
        if not nodes:
            break
    return nodes


def _get(value: dict, keys: tuple[tuple[str, str], ...]) -> list[Node]:
    found: list[Node] = []
    for key, type_code in keys:
        item = value.get(key)
        if item is None:
            continue
        if isinstance(item, list):
            found.extend((v, type_code) for v in item if v is not None)
        else:
            found.append((item, type_code))
    return found


def _points_to(value: Any, res_type: str) -> bool:
    ref = value.get("reference", "") if isinstance(value, dict) else ""
    return ref.startswith(res_type + "/") or f"/{res_type}/" in ref


Evaluator = Callable[[Any], list[Node]]


@cache
def compile_expression(expression: str, res_type: str) -> Evaluator:
    """Evaluate ``expression`` on a resource of ``res_type``; alternatives for other types are dropped."""
    evaluators = []
    for part in split_union(expression):
        root, _, rest = part.partition(".")
        root = root.lstrip("(")
        if root not in (res_type, "Resource", "DomainResource"):
            continue
        part = res_type + part[part.index(root) + len(root):] if rest else part
        evaluators.append(_compile_part(part, res_type))
    return _union(evaluators)


@cache
def compile_relative(expression: str, start: str | None) -> Evaluator:
    """Evaluate a composite component's expression on a node of type/backbone path ``start``."""
    evaluators = []
    for part in split_union(expression):
        simple = _compile_path(part, start) if start else None
        evaluators.append(_simple(simple[0]) if simple else _fhirpath(part))
    return _union(evaluators)


def result_path(expression: str, res_type: str) -> str | None:
    """The type/backbone path of what a single-path expression selects (for composites)."""
    parts = split_union(expression)
    if len(parts) != 1:
        return None
    part = parts[0]
    if part == res_type:
        return res_type
    compiled = _compile_path(part.partition(".")[2], res_type) if "." in part else None
    return compiled[1] if compiled else None


def _compile_part(part: str, res_type: str) -> Evaluator:
    if part == res_type:
        return lambda resource: [(resource, res_type)]
    compiled = _compile_path(part.partition(".")[2], res_type)
    if compiled:
        return _simple(compiled[0])
    flag = _EXISTS_NOT_FALSE.fullmatch(part)
    if flag and flag[1] == flag[3] == res_type and flag[2] == flag[4]:
        choice = _compile_path(flag[2], res_type)
        if choice:
            return _exists_not_false(choice[0], "_" + flag[2], _fhirpath(part))
    return _fhirpath(part)


# ``Patient.deceased.exists() and Patient.deceased != false`` (Patient-deceased): a flag from a
# boolean-or-dateTime choice, evaluated on every Patient, answered here without the engine
_EXISTS_NOT_FALSE = re.compile(r"(\w+)\.(\w+)\.exists\(\) and (\w+)\.(\w+) != false")


def _exists_not_false(steps: list[_Step], partner: str, engine: Evaluator) -> Evaluator:
    """The engine's answer for the plain shapes: no value → false, a boolean → itself, a
    dateTime → true; anything else (a primitive's ``_`` partner, several values) → the engine."""
    def evaluate_on(node: Any) -> list[Node]:
        if any(key.startswith(partner) for key in node):
            return engine(node)
        values = _walk(steps, (node, None))
        if not values:
            return [(False, None)]
        value = values[0][0]
        if len(values) == 1 and (value is True or value is False):
            return [(value, None)]
        if len(values) == 1 and isinstance(value, str):
            return [(True, None)]
        return engine(node)

    return evaluate_on


def _simple(steps: list[_Step]) -> Evaluator:
    return lambda node: _walk(steps, (node, None))


def _fhirpath(expression: str) -> Evaluator:
    rewritten = _RESOLVE.sub(lambda m: f"where(reference.startsWith('{m[1]}/'))", expression)
    try:
        compiled(rewritten)
    except FhirPathError:
        return lambda node: []  # refused when the SearchParameter is written; one stored before indexes nothing

    def evaluate_on(node: Any) -> list[Node]:
        try:
            return [(v, None) for v in evaluate(node, rewritten) if v is not None]
        except Exception:  # noqa: BLE001 - a value the expression cannot handle indexes nothing
            return []

    return evaluate_on


def _union(evaluators: list[Evaluator]) -> Evaluator:
    if not evaluators:
        return lambda node: []
    if len(evaluators) == 1:
        return evaluators[0]
    return lambda node: [n for e in evaluators for n in e(node)]
