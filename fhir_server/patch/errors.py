"""The patch failures that are not malformed requests (FHIR R4 http.html#patch).

A patch that is well formed but cannot be applied to this resource is a 422 whose issue
says ``processing`` (an R4 IssueType), kept in one place so every patch module agrees.
"""

from __future__ import annotations

from fhir_server.core.errors import Unprocessable


def cannot_apply(message: str) -> Unprocessable:
    """422 ``processing``: the patch does not apply to this resource (no match, wrong type, ...)."""
    return Unprocessable(message, code="processing")
