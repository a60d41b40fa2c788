"""Errors that become OperationOutcomes (FHIR R4 §2.1 http, "OperationOutcome").

Every layer raises :class:`FHIRError` with one or more :class:`Issue` objects; the API layer
turns it into an ``OperationOutcome`` body with ``status``.  Validators collect issues and
raise once, so a client fixes everything in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """One ``OperationOutcome.issue``."""

    code: str  # IssueType: invalid, structure, required, value, invariant, business-rule, ...
    diagnostics: str
    severity: str = "error"  # fatal | error | warning | information
    expression: tuple[str, ...] = ()
    details: dict | None = None  # a CodeableConcept, e.g. the business rule that was broken

    def to_fhir(self) -> dict:
        issue: dict = {"severity": self.severity, "code": self.code}
        if self.details:
            issue["details"] = self.details
        issue["diagnostics"] = self.diagnostics
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")


class FHIRError(Exception):
    """An error with an HTTP status and OperationOutcome issues."""

    status = 400

    def __init__(self, issues: Iterable[Issue] | str, status: int | None = None, code: str = "invalid",
                 expression: Iterable[str] = (), headers: dict[str, str] | None = None) -> None:
        if isinstance(issues, str):
            issues = [Issue(code, issues, expression=tuple(expression))]
        self.issues: list[Issue] = list(issues)
        if status is not None:
            self.status = status
        self.headers = headers or {}
        super().__init__("; ".join(i.diagnostics for i in self.issues))

    def outcome(self) -> dict:
        return operation_outcome(self.issues)


def operation_outcome(issues: Iterable[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


def _kind(status: int, code: str):
    """A FHIRError subclass with a fixed status and default issue code."""

    class _Error(FHIRError):
        def __init__(self, issues: Iterable[Issue] | str, expression: Iterable[str] = (),
                     headers: dict[str, str] | None = None, code: str = code) -> None:
            super().__init__(issues, status, code, expression, headers)

    _Error.status = status
    return _Error


class BadRequest(_kind(400, "invalid")):  # type: ignore[misc]
    """400: the request cannot be understood (malformed body, bad parameter)."""


class NotFound(_kind(404, "not-found")):  # type: ignore[misc]
    """404: no such resource, type, version or route."""


class Gone(_kind(410, "deleted")):  # type: ignore[misc]
    """410: the resource was deleted."""


class MethodNotAllowed(_kind(405, "not-supported")):  # type: ignore[misc]
    """405: the interaction is not supported at this URL."""


class Conflict(_kind(409, "conflict")):  # type: ignore[misc]
    """409: conflicts with the current state (e.g. a version clash, a domain rule on existing data)."""


class PreconditionFailed(_kind(412, "conflict")):  # type: ignore[misc]
    """412: If-Match or a conditional interaction's precondition does not hold."""


class PayloadTooLarge(_kind(413, "too-costly")):  # type: ignore[misc]
    """413: the body exceeds the configured limit."""


class UnsupportedMediaType(_kind(415, "not-supported")):  # type: ignore[misc]
    """415: a Content-Type the server does not read."""


class NotAcceptable(_kind(406, "not-supported")):  # type: ignore[misc]
    """406: no acceptable representation."""


class Unprocessable(_kind(422, "processing")):  # type: ignore[misc]
    """422: well-formed, but the resource breaks a rule (profile, invariant, business rule)."""


class Forbidden(_kind(403, "forbidden")):  # type: ignore[misc]
    """403: the principal may not do this."""


class TooCostly(_kind(400, "too-costly")):  # type: ignore[misc]
    """The query or request would cost more than the configured limit."""


class ServiceUnavailable(_kind(503, "transient")):  # type: ignore[misc]
    """503: the storage cannot serve the request now (read-only, disk full); ``Retry-After`` says when to try."""
