""""May this principal do this?" (SPEC §6): scopes decide which types and interactions, the
care relationship decides whose records.

A :class:`Grant` is the answer for one resource type and permission: refused (None), open, or
limited to the residents in a :class:`Reach` (and to the search restrictions of v2 scopes).
The reach is declarative here; the search layer turns it into SQL, so that counts and pages
never see what the principal may not.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.auth.principal import Principal
from fhir_server.auth.scopes import granting


@dataclass(frozen=True, slots=True)
class Reach:
    """The residents whose Patient compartments a principal may see."""

    patients: tuple[str, ...] = ()  # Patient ids: a resident's own record, a patient/ launch context
    related_person: str | None = None  # a guardian: the patient of this RelatedPerson
    practitioner: str | None = None  # a doctor: contracts of their teams, referrals to their organization
    region: str | None = None  # a public-health role: residents managed in this Organization and below


@dataclass(frozen=True, slots=True)
class Grant:
    reach: Reach | None = None  # None: not limited by relationship
    restrictions: tuple[tuple[tuple[str, str], ...], ...] = ()  # v2 scope restrictions, any of them

    @property
    def limited(self) -> bool:
        return self.reach is not None or bool(self.restrictions)


OPEN = Grant()


def grant(principal: Principal, res_type: str, permission: str) -> Grant | None:
    """What ``principal`` may do with ``permission`` (c r u d s) on ``res_type``; None: refused."""
    if principal.open:
        return OPEN
    scopes = granting(principal.scopes, res_type, permission)
    if not scopes:
        return None
    contexts = {s.context for s in scopes}
    reach = None if "system" in contexts else reach_of(principal, contexts)
    restrictions = () if any(not s.restrictions for s in scopes) else tuple(s.restrictions for s in scopes)
    return Grant(reach, restrictions)


def reach_of(principal: Principal, contexts: set[str]) -> Reach:
    """The residents of a patient/ or user/ token (SPEC Appendix A "Access by relationship")."""
    patients = [principal.own_patient] if principal.own_patient else []
    user = "user" in contexts
    return Reach(patients=tuple(patients), related_person=principal.related_person,
                 practitioner=principal.practitioner if user else None,
                 region=principal.region if user else None)
