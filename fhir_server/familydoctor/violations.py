"""Business-rule violations (SPEC §4): an OperationOutcome issue of code ``business-rule``
naming the rule (``details.coding`` in CS/business-rule, and the diagnostics' first words)
and, where relevant, the conflicting resource.  409 when the resource conflicts with
existing data, 422 when the resource itself breaks the rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from fhir_server.core import jiayi_names as jn
from fhir_server.core.errors import Conflict, FHIRError, Issue, Unprocessable


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str  # e.g. jiayi-contract-one-in-force
    message: str
    expression: tuple[str, ...] = ()
    conflict: bool = False  # with existing data (409) rather than in the resource itself (422)

    def issue(self) -> Issue:
        details = {"coding": [{"system": jn.BUSINESS_RULE, "code": self.rule}], "text": self.rule}
        return Issue("business-rule", f"{self.rule}: {self.message}", expression=self.expression,
                     details=details)


def raise_if_any(violations: Iterable[Violation]) -> None:
    """Raise once with every violation: 422 if the resource itself breaks a rule, else 409."""
    found = list(violations)
    if not found:
        return
    issues = [v.issue() for v in found]
    error: FHIRError = Conflict(issues) if all(v.conflict for v in found) else Unprocessable(issues)
    raise error


def refuse(rule: str, message: str, *expression: str, conflict: bool = False) -> NoReturn:
    raise_if_any([Violation(rule, message, tuple(expression), conflict)])
    raise AssertionError("unreachable")
