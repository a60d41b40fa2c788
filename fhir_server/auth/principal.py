"""Who is making a request.  Every request carries a principal; until authentication is
configured (SPEC §6, its own issue) it is the development principal with every scope."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    practitioner: str | None = None  # Practitioner/id when the user is a clinician
    patient: str | None = None  # Patient/id for a patient/ token
    remote_addr: str | None = None

    def has_scope(self, scope: str) -> bool:
        return "system/*.*" in self.scopes or scope in self.scopes


ANONYMOUS = Principal(subject="anonymous-development", scopes=frozenset({"system/*.*"}))
