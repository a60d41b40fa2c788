"""FHIRPath invariants (FHIR R4 conformance-rules.html §constraints; fhirpath.html).

Every ``ElementDefinition.constraint`` with an ``expression`` is evaluated with fhirpathpy on
each instance of its element, with ``%resource`` / ``%rootResource`` set.  Expressions are
parsed once per (expression, element path) and cached, so the write path pays parsing once
per process.

What fhirpathpy cannot evaluate is skipped knowingly, never turned into a false error
(``docs/decisions.md`` "Invariants the validator skips"):

- invariants that call a function in :data:`UNSUPPORTED` (``htmlChecks``: the XHTML rules of
  txt-1/txt-2 are checked by the narrative parser instead; ``conformsTo``, ``memberOf``,
  ``resolve``: they need the server's other resources or terminology at evaluation time);
- invariants in :data:`KNOWN_GAPS`, which fhirpathpy gets wrong on valid data;
- an evaluation that raises (a fhirpathpy gap on an unusual shape) counts as "not evaluated".

An expression that contradicts its own human text in R4 is evaluated as corrected by HL7
(:data:`CORRECTED`: que-12).

The expression is evaluated by :mod:`fhir_server.core.fhirpath` (fhirpathpy with date/time
comparisons as instants, type names at the root, ``hasValue()``).  ``ele-1``, ``ext-1`` and
``ref-1`` hold on every element / extension / Reference, so they are checked natively (same
semantics, no FHIRPath call per element): :func:`ele_1`, :func:`ext_1`, :func:`ref_1`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fhir_server.core.fhirpath import FhirPathError, compiled, evaluate

DATA = Path(__file__).parent / "data"
UNSUPPORTED = ("htmlChecks", "conformsTo", "memberOf", "resolve")
NATIVE = frozenset({"ele-1", "ext-1", "ref-1", "bdl-7"})  # bdl-7: validation/bundle.py
# invariants fhirpathpy evaluates wrongly on valid data (each one a false error if evaluated)
KNOWN_GAPS = {
    "que-7": "'answer is Boolean' is false on a FHIR boolean in fhirpathpy (only 'is boolean' works)",
}
# invariants whose R4 expression contradicts its own human text, as published in the technical
# correction (R4B/R5): que-12 says "more than one enableWhen" but counts "> 2"
CORRECTED = {
    "que-12": "enableWhen.count() > 1 implies enableBehavior.exists()",
}
_UNSUPPORTED_RE = re.compile(r"\b(" + "|".join(UNSUPPORTED) + r")\s*\(")


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    severity: str  # error | warning
    expression: str
    human: str

    @property
    def evaluable(self) -> bool:
        return self.key not in NATIVE and self.key not in KNOWN_GAPS and not _UNSUPPORTED_RE.search(self.expression)


@cache
def base_invariants() -> dict[str, tuple[Invariant, ...]]:
    """R4 invariants by element path or type name (``Patient.contact``, ``Period``, ``DomainResource``)."""
    data = json.loads((DATA / "r4-invariants.json").read_text(encoding="utf-8"))["invariants"]
    return {path: tuple(_corrected(Invariant(*row)) for row in rows) for path, rows in data.items()}


def _corrected(invariant: Invariant) -> Invariant:
    expression = CORRECTED.get(invariant.key)
    return invariant if expression is None else Invariant(invariant.key, invariant.severity, expression,
                                                          invariant.human)


@cache
def base_keys() -> frozenset[str]:
    return frozenset(i.key for rows in base_invariants().values() for i in rows)


@cache
def _parses(expression: str) -> bool:
    try:
        compiled(expression)
    except FhirPathError:  # an expression fhirpathpy cannot parse is skipped, not an error
        return False
    return True


def holds(invariant: Invariant, node: object, base: str, resource: object, root: object) -> bool | None:
    """True/False, or None when it was not evaluated (unsupported function, fhirpathpy gap)."""
    if not invariant.evaluable:
        return None
    if not _parses(invariant.expression):
        return None
    variables = {"resource": resource, "rootResource": root}
    try:
        result = evaluate(node, invariant.expression, base, variables)
    except Exception:  # noqa: BLE001 - fhirpathpy raises plain Exception for what it does not implement
        return None
    if result == [] or result == [True]:
        return True  # an empty result is not a failure (FHIRPath: constraints evaluate to true or empty)
    if result == [False]:
        return False
    return None


def ele_1(node: object) -> bool:
    """ele-1 ``hasValue() or (children().count() > id.count())`` for a JSON object."""
    return not isinstance(node, dict) or not node or any(k != "id" for k in node)  # {} is reported as empty


def ext_1(node: object) -> bool:
    """ext-1 ``extension.exists() != value.exists()``."""
    if not isinstance(node, dict):
        return True
    has_value = False
    for k in node:  # any(k.startswith("value") for k in node), without a generator (issue 19)
        if k.startswith("value"):
            has_value = True
            break
    return bool(node.get("extension")) != has_value


def ref_1(node: object, root: object) -> bool:
    """ref-1 ``reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)``;
    a bare ``#`` (the container itself, R4 references.html#contained) is accepted."""
    ref = node.get("reference") if isinstance(node, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#") or ref == "#":
        return True
    contained = root.get("contained") if isinstance(root, dict) else None
    return any(isinstance(c, dict) and c.get("id") == ref[1:] for c in contained or [])
