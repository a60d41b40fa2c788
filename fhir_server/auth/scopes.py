"""SMART on FHIR scopes (App Launch 1.0 and 2.x, SPEC Appendix A "Security").

``context/Type.permissions[?restrictions]``: ``context`` is ``patient``, ``user`` or ``system``;
``Type`` a resource type or ``*``; permissions the v2 letters ``c r u d s`` (in any subset) or
the v1 words ``read`` (= ``rs``), ``write`` (= ``cud``) and ``*`` (= ``cruds``); v2 restrictions
are search parameters (``patient/Observation.rs?category=vital-signs``).  Scopes that are not
about resources (``openid``, ``fhirUser``, ``launch/patient``, ``offline_access``) are kept out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

CONTEXTS = ("patient", "user", "system")
LETTERS = "cruds"
V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_SHAPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([A-Za-z*]+)(?:\?(.*))?$")

CREATE, READ, UPDATE, DELETE, SEARCH = "c", "r", "u", "d", "s"


@dataclass(frozen=True, slots=True)
class Scope:
    context: str  # patient | user | system
    res_type: str  # a resource type, or "*"
    permissions: frozenset[str]
    restrictions: tuple[tuple[str, str], ...] = ()

    def permits(self, res_type: str, permission: str) -> bool:
        return permission in self.permissions and self.res_type in ("*", res_type)

    def __str__(self) -> str:
        letters = "".join(c for c in LETTERS if c in self.permissions)
        query = "&".join(f"{k}={v}" for k, v in self.restrictions)
        return f"{self.context}/{self.res_type}.{letters}" + (f"?{query}" if query else "")


def parse_scope(text: str) -> Scope | None:
    """One scope, or None when it is not a resource scope or is malformed (ignored, never widened)."""
    match = _SHAPE.match(text.strip())
    if match is None:
        return None
    context, res_type, permissions, query = match.groups()
    letters = V1.get(permissions, permissions)
    if not letters or any(c not in LETTERS for c in letters) or len(set(letters)) != len(letters):
        return None
    restrictions = tuple(parse_qsl(query, keep_blank_values=False)) if query else ()
    return Scope(context, res_type, frozenset(letters), restrictions)


def parse_scopes(text: str | list | None) -> tuple[Scope, ...]:
    """The resource scopes of a token's ``scope`` claim (space-separated, or a list)."""
    words = text.split() if isinstance(text, str) else [str(w) for w in text or ()]
    return tuple(s for s in (parse_scope(w) for w in words) if s is not None)


def granting(scopes: tuple[Scope, ...], res_type: str, permission: str) -> tuple[Scope, ...]:
    """The scopes that allow ``permission`` on ``res_type``."""
    return tuple(s for s in scopes if s.permits(res_type, permission))
