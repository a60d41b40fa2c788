"""Token → principal; "may this principal do this?" (SPEC §6, Appendix A "Security").

With ``JIAYI_AUTH_JWKS`` set every request but the open ones (the CapabilityStatement and
the SMART configuration) needs a bearer token; without it the server is in development mode
and every request gets the open development principal.  The API layer asks
:meth:`Authenticator.principal` before any handler runs; the principal travels on the request.
"""

from __future__ import annotations

from dataclasses import replace

from fhir_server.auth.principal import ANONYMOUS, Principal
from fhir_server.auth.tokens import InvalidToken, TokenVerifier

OPEN_PATHS = ("metadata", ".well-known/smart-configuration")
PRINCIPALS_KEPT = 4096  # as many as the verifier remembers tokens


class Authenticator:
    def __init__(self, verifier: TokenVerifier | None, optional: bool = False) -> None:
        self.verifier = verifier
        self.optional = optional  # the demo: no token = development principal; a token is honoured
        # the principal of each verified token (its claims object, its scopes parsed once), keyed
        # by the claims the verifier remembers: a token seen again costs a dict look-up
        self._principals: dict[int, tuple[dict, Principal]] = {}

    @classmethod
    def from_settings(cls, settings) -> Authenticator:
        if not settings.auth_jwks:
            return cls(None)
        verifier = TokenVerifier(settings.auth_jwks, settings.auth_issuer, settings.auth_audience)
        return cls(verifier, optional=settings.auth_optional)

    @property
    def development(self) -> bool:
        return self.verifier is None

    def principal(self, authorization: str | None, remote_addr: str | None, fhir_path: str | None,
                  base_url: str | None = None) -> Principal:
        """The principal of a request to ``fhir_path`` (relative to the FHIR base; None: not the API)."""
        if self.verifier is None or fhir_path is None or fhir_path.strip("/") in OPEN_PATHS:
            return replace(ANONYMOUS, remote_addr=remote_addr, open=self.verifier is None)
        if self.optional and not (authorization or "").strip():
            return replace(ANONYMOUS, remote_addr=remote_addr, open=True)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("This server needs 'Authorization: Bearer <token>'")
        claims = self.verifier.verify(token.strip(), default_audience=base_url)
        known = self._principals.get(id(claims))
        if known is None or known[0] is not claims:
            if len(self._principals) >= PRINCIPALS_KEPT:
                self._principals.clear()
            known = self._principals[id(claims)] = (claims, Principal.from_claims(claims, remote_addr))
        principal = known[1]
        return principal if principal.remote_addr == remote_addr else replace(principal, remote_addr=remote_addr)


def principal_for(authorization: str | None, remote_addr: str | None) -> Principal:
    """Development mode: everyone is the open development principal."""
    return replace(ANONYMOUS, remote_addr=remote_addr)


__all__ = ["Authenticator", "InvalidToken", "Principal", "principal_for"]
