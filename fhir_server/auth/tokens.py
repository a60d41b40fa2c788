"""Bearer tokens: JWTs verified against the keys of ``JIAYI_AUTH_JWKS`` (SPEC Appendix A).

PyJWT (with ``cryptography``) does all the JOSE work; this module only finds the key.  The
key set is read from a file or an ``https://`` URL, kept in memory, and read again when a
token names a ``kid`` it does not hold (an identity provider rotating its keys), at most once
every ``REFRESH_AFTER`` seconds so that made-up ``kid`` values cannot make us hammer it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jwt
import requests

from fhir_server.core.errors import FHIRError, Issue

ALGORITHMS = ["RS256", "ES256"]
REFRESH_AFTER = 30.0  # seconds between two reads of the key set triggered by unknown kids
LEEWAY = 30  # seconds of clock skew tolerated on exp / nbf / iat
VERIFIED_CACHE = 4096  # verified tokens remembered (per process) until they expire


class InvalidToken(FHIRError):
    """401 with ``WWW-Authenticate: Bearer`` (RFC 6750 §3)."""

    status = 401

    def __init__(self, message: str, error: str = "invalid_token") -> None:
        header = f'Bearer error="{error}"' if error else "Bearer"
        super().__init__([Issue("login", message)], 401, headers={"WWW-Authenticate": header})


class KeySet:
    """The JWKS of a file path or https URL, cached, refreshed on an unknown ``kid``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._keys: list[jwt.PyJWK] = []
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def keys_for(self, kid: str | None) -> list[jwt.PyJWK]:
        keys = self._matching(kid)
        if not keys and time.monotonic() - self._loaded_at >= (REFRESH_AFTER if self._keys else 0):
            with self._lock:
                self._load()
            keys = self._matching(kid)
        return keys

    def _matching(self, kid: str | None) -> list[jwt.PyJWK]:
        if kid is None:
            return list(self._keys)
        return [k for k in self._keys if k.key_id == kid]

    def _load(self) -> None:
        self._loaded_at = time.monotonic()
        data = self._read()
        keys = []
        for entry in data.get("keys", []):
            try:
                keys.append(jwt.PyJWK.from_dict(entry))
            except jwt.PyJWTError:
                continue  # a key of a type or algorithm we do not use
        self._keys = keys

    def _read(self) -> dict:
        if self.source.startswith("https://") or self.source.startswith("http://"):
            response = requests.get(self.source, timeout=10)
            response.raise_for_status()
            return response.json()
        return json.loads(Path(self.source).read_text(encoding="utf-8"))


class TokenVerifier:
    """Verifies tokens; one that verified is remembered (by its exact text and audience) until
    it expires, so a client's requests pay for the signature check once, not every time."""

    def __init__(self, jwks: str, issuer: str | None = None, audience: str | None = None) -> None:
        self.keys = KeySet(jwks)
        self.issuer = issuer or None
        self.audience = audience or None
        self._verified: dict[tuple[str, str | None], dict] = {}

    def verify(self, token: str, default_audience: str | None = None) -> dict:
        """The token's claims, or :class:`InvalidToken`.  Audience: the configured one, else the
        server's base URL (``default_audience``)."""
        key = (token, default_audience)
        claims = self._verified.get(key)
        if claims is not None and claims["exp"] > time.time():
            return claims
        claims = self._verify(token, default_audience)
        if len(self._verified) >= VERIFIED_CACHE:
            self._verified.clear()
        self._verified[key] = claims
        return claims

    def _verify(self, token: str, default_audience: str | None) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The bearer token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"Tokens must be signed with {' or '.join(ALGORITHMS)}")
        try:
            keys = self.keys_for(header.get("kid"))
        except (OSError, ValueError, requests.RequestException):
            raise InvalidToken("The key set (JIAYI_AUTH_JWKS) cannot be read", error="") from None
        if not keys:
            raise InvalidToken("The token is signed by an unknown key")
        audience = self.audience or default_audience
        last: Exception | None = None
        for key in keys:
            try:
                return jwt.decode(token, key=key.key, algorithms=ALGORITHMS, audience=audience,
                                  issuer=self.issuer, leeway=LEEWAY,
                                  options={"require": ["exp"], "verify_aud": audience is not None})
            except jwt.InvalidSignatureError as exc:
                last = exc
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"The bearer token is not valid: {exc}") from None
        raise InvalidToken(f"The bearer token is not valid: {last}")

    def keys_for(self, kid: str | None) -> list[jwt.PyJWK]:
        return self.keys.keys_for(kid)
