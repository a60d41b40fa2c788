"""Validation on write (SPEC §3 "Validation"): a resource that claims a Jiayi profile in
``meta.profile`` is validated against it inside the write transaction, whichever way it
arrives (create, update, patch, batch and transaction entries, operations, adapters); in
strict mode, every claimed profile.  Any error → 422 with every issue, and the transaction
rolls back, so nothing is written.

The hook has the repository's ``WriteHook`` shape ``(uow, event)``; it is installed by
``create_app`` (the validation layer does not import the repository).
"""

from __future__ import annotations

from collections.abc import Callable

from fhir_server.core.errors import Unprocessable
from fhir_server.validation.validator import Validator


def write_hook(validator: Validator) -> Callable[[object, object], None]:
    def validate_on_write(_uow: object, event: object) -> None:
        resource = getattr(event, "resource", None)
        if not isinstance(resource, dict):
            return  # a delete
        issues = validator.write_issues(resource)
        if any(i.is_error for i in issues):
            raise Unprocessable(issues)

    return validate_on_write
