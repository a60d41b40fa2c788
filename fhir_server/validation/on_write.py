"""Validation on write (SPEC §3 "Validation"), inside the write transaction, whichever way a
resource arrives (create, update, patch, batch and transaction entries, operations, adapters):
the base R4 error invariants and core extension definitions of every resource (an error → 400,
base R4), then, for a resource that claims a Jiayi profile in ``meta.profile`` (in strict mode,
any claimed profile), the profile (an error → 422).  The transaction rolls back, so nothing is
written.

The hook has the repository's ``WriteHook`` shape ``(uow, event)``; it is installed by
``create_app`` (the validation layer does not import the repository).
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.core.errors import FHIRError, Unprocessable
from fhir_server.validation.validator import Validator


def write_hook(validator: Validator) -> Callable[[object, object], None]:
    def validate_on_write(_uow: object, event: object) -> None:
        resource = getattr(event, "resource", None)
        if not isinstance(resource, dict):
            return  # a delete
        base = validator.base_write_issues(resource)
        if any(i.is_error for i in base):
            raise FHIRError(base, status=400)  # base R4 rules: 400 (docs/decisions.md "Validation status codes")
        issues = validator.write_issues(resource)
        if any(i.is_error for i in issues):
            raise Unprocessable(issues)

    return validate_on_write
