"""The values and operators of compiled invariants (:mod:`.invariant_compiler`): FHIRPath
collections over the JSON data, navigation (members, choice elements, primitives present only
through their ``_element``), three-valued logic, equality, comparison and union (FHIR R4
fhirpath.html §4–6)."""

from __future__ import annotations

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


class Extended:
    """A primitive element present only through its ``_element`` (no value): exists, no value."""

    __slots__ = ("element",)

    def __init__(self, element: object) -> None:
        self.element = element

    def __eq__(self, other: object) -> bool:
        raise Undecided

    __hash__ = None  # type: ignore[assignment]


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


def children_of(item: object, name: str) -> list:
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
                    out.append(Extended(partner[i]))
            return out
        return [] if value is None else [value]
    if "_" + name in item:
        partner = item["_" + name]
        if isinstance(partner, list):
            return [Extended(p) for p in partner if p is not None]
        return [Extended(partner)] if partner is not None else []
    if name not in _choice_names():
        return []
    suffixes = _type_suffixes()
    for key, value in item.items():
        if key.startswith(name) and key[len(name):] in suffixes:
            return value if isinstance(value, list) else [value]
        if key.startswith("_" + name) and key[len(name) + 1:] in suffixes and key[1:] not in item:
            return [Extended(value)]
    return []


def focus_input(focus: Collection, _env: Env) -> Collection:
    """An identifier's input at the start of a path (``url`` in ``where(url = …)``)."""
    return focus


def member_of(name: str, source: Fn) -> Fn:
    def member(focus: Collection, env: Env) -> Collection:
        out: list = []
        for item in source(focus, env):
            out.extend(children_of(item, name))
        return out
    if source is focus_input:
        FIELDS[id(member)] = (member, name)
    return member


# --- values and logic ------------------------------------------------------------------------
def truth(collection: Collection) -> bool | None:
    """Singleton evaluation of collections for boolean operators (fhirpath.html §4.5)."""
    if not collection:
        return None
    if len(collection) > 1:
        raise Undecided
    value = collection[0]
    return value if isinstance(value, bool) else True


def result_of(value: bool | None) -> Collection:
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


def plain(value: object) -> object:
    """A value safe to compare with Python equality: strings that may be dates/times are not."""
    if type(value) is str:  # the most common value, first
        if value[:1].isdigit() and ("-" in value or ":" in value):
            raise Undecided  # a date, dateTime, time or instant: precision and time zones matter
        return value
    if isinstance(value, Extended):
        raise Undecided
    if isinstance(value, str) and value[:1].isdigit() and ("-" in value or ":" in value):
        raise Undecided  # a date, dateTime, time or instant: precision and time zones matter
    if isinstance(value, float) or (isinstance(value, dict) and "value" in value and "unit" in value):
        raise Undecided  # decimal precision / quantities with units
    return value


STRINGS: dict[int, tuple[Fn, str]] = {}  # the functions of string literals (kept alive here), by id
FIELDS: dict[int, tuple[Fn, str]] = {}  # member functions of the input (``url``), by id
FIELD_TESTS: dict[int, tuple[Fn, str, str, bool]] = {}  # ``url = 'text'`` / ``!=``: (fn, name, text, negated)


def plain_string(fn: Fn) -> str | None:
    """The text of a string literal that compares with Python equality (not a date or time)."""
    hit = STRINGS.get(id(fn))
    if hit is None or hit[0] is not fn:
        return None
    try:
        plain(hit[1])
    except Undecided:
        return None
    return hit[1]


def _equal(a: Collection, b: Collection) -> bool | None:
    if not a or not b:
        return None
    if len(a) != len(b):
        return False
    return all(plain(x) == plain(y) for x, y in zip(a, b, strict=True))


def _compare(op: str, a: Collection, b: Collection) -> bool | None:
    if not a or not b:
        return None
    if len(a) > 1 or len(b) > 1:
        raise Undecided
    x, y = a[0], b[0]
    if type(x) is not int or type(y) is not int:
        raise Undecided  # strings, dates, decimals, quantities: the engine compares those
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def union_of(a: Collection, b: Collection) -> Collection:
    out: list = []
    for item in (*a, *b):
        if not any(same_item(item, seen) for seen in out):
            out.append(item)
    return out


def same_item(x: object, y: object) -> bool:
    return plain(x) == plain(y) and type(x) is type(y)


def operator_of(op: str, left: Fn, right: Fn) -> Fn:
    if op in _LOGIC:
        logic = _LOGIC[op]

        def boolean(focus: Collection, env: Env) -> Collection:
            return result_of(logic(truth(left(focus, env)), truth(right(focus, env))))
        return boolean
    literal = plain_string(right) if op in ("=", "!=") else None
    if literal is not None:
        negate, text = op == "!=", literal

        def equals_text(focus: Collection, env: Env) -> Collection:  # _equal with a string literal on the right
            a = left(focus, env)
            if not a:
                return []
            same = len(a) == 1 and plain(a[0]) == text
            return [same != negate]
        field = FIELDS.get(id(left))
        if field is not None and field[0] is left:
            FIELD_TESTS[id(equals_text)] = (equals_text, field[1], text, negate)
        return equals_text
    if op in ("=", "!="):
        negate = op == "!="

        def equality(focus: Collection, env: Env) -> Collection:
            same = _equal(left(focus, env), right(focus, env))
            return result_of(same if same is None or not negate else not same)
        return equality
    if op in ("<", ">", "<=", ">="):
        return lambda focus, env: result_of(_compare(op, left(focus, env), right(focus, env)))
    if op == "|":
        return lambda focus, env: union_of(left(focus, env), right(focus, env))
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
            return [any(same_item(item[0], other) for other in coll_fn(focus, env))]
        return membership
    raise NotCompilable(f"operator {op}")
