"""A SearchParameter's ``expression`` is checked before the resource is accepted (issue 18).

A stored SearchParameter's FHIRPath runs on every write of its base types, so an expression
the engine cannot evaluate, or one whose regular expression needs backtracking, is refused
up front rather than failing (or freezing a worker) on every later write.  The rules are
:func:`fhir_server.core.fhirpath.check_expression`'s: strict grammar, known functions, a
length bound, and literal regular expressions that compile on the linear-time engine.
"""

from __future__ import annotations

from fhir_server.core.errors import Issue
from fhir_server.core.fhirpath import FhirPathError, check_expression


def search_parameter_issues(resource: dict, base: str) -> list[Issue]:
    expression = resource.get("expression")
    if not isinstance(expression, str):
        return []  # absent, or a wrong JSON type the schema reports
    try:
        check_expression(expression)
    except FhirPathError as exc:
        return [Issue("invalid", f"SearchParameter.expression cannot be used: {exc}",
                      expression=(f"{base}.expression",))]
    return []
