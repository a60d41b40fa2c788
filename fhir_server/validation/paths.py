"""FHIRPath-style locations for OperationOutcome.issue.expression (FHIR R4 §2, operationoutcome.html).

Issues point at the offending element the way an integration engineer reads a resource:
``Patient.name[0].given[1]``, ``Observation.valueQuantity.value``, ``Bundle.entry[2].resource.status``.
JSON property names are kept as sent (``valueQuantity``, ``_birthDate``) so the location
can be found in the request body with a text search.
"""

from __future__ import annotations

from collections.abc import Iterable


def join(base: str, parts: Iterable[str | int]) -> str:
    """``join("Patient", ["name", 0, "given"])`` → ``Patient.name[0].given``."""
    out = [base]
    for part in parts:
        out.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(out)


def shown(value: object, limit: int = 60) -> str:
    """A short, safe rendering of a received value for a diagnostics message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
