"""Validation on write (SPEC §3 "Validation"), inside the write transaction, whichever way a
resource arrives (create, update, patch, batch and transaction entries, operations, adapters):
the base R4 error invariants and core extension definitions of every resource (an error → 400,
base R4), then, for a resource that claims a Jiayi profile in ``meta.profile`` (in strict mode,
any claimed profile), the profile (an error → 422).  The transaction rolls back, so nothing is
written.

The function is the repository's ``Hooks.validate``; ``create_app`` installs it (the
validation layer does not import the repository).
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.core.errors import FHIRError, Issue
from fhir_server.validation.validator import Validator


def write_validation(validator: Validator) -> Callable[[dict], list[Issue]]:
    """The repository's ``Hooks.validate``: the base R4 write rules first (an error is a 400 at
    once), then the issues of the profiles the resource claims (errors → 422 by the repository)."""
    def validate_on_write(resource: dict) -> list[Issue]:
        base = validator.base_write_issues(resource)
        if any(i.is_error for i in base):
            raise FHIRError(base, status=400)  # base R4 rules: 400 (docs/decisions.md "Validation status codes")
        return validator.write_issues(resource)

    return validate_on_write
