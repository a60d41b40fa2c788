"""A throw-away identity provider for tests: RSA and EC keys made in the test session (never
stored in the repository), their JWKS in a temporary file, and tokens signed with them."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.test/realms/jiayi"


class TestIssuer:
    __test__ = False  # not a test class

    def __init__(self, folder: Path, audience: str) -> None:
        self.audience = audience
        self.keys = {"rsa-1": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
                     "ec-1": (ec.generate_private_key(ec.SECP256R1()), "ES256")}
        self.jwks_path = folder / "jwks.json"
        self.write_jwks()

    def write_jwks(self) -> None:
        keys = []
        for kid, (key, alg) in self.keys.items():
            algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        self.jwks_path.write_text(json.dumps({"keys": keys}), encoding="utf-8")

    def add_key(self, kid: str) -> None:
        self.keys[kid] = (ec.generate_private_key(ec.SECP256R1()), "ES256")
        self.write_jwks()

    def token(self, scope: str = "system/*.cruds", kid: str = "rsa-1", lifetime: int = 300, **claims) -> str:
        key, alg = self.keys[kid]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": self.audience, "sub": claims.get("fhirUser", "client-1"), "iat": now,
                "exp": now + lifetime, "jti": uuid.uuid4().hex, "scope": scope, "client_id": "test-client", **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})

    def headers(self, scope: str = "system/*.cruds", **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(scope, **claims)}", "Content-Type": "application/fhir+json"}


def stranger_token(audience: str) -> str:
    """A well-formed token signed by a key the server does not know (same kid as the real one)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": audience, "sub": "x", "exp": now + 300, "scope": "system/*.cruds"},
                      key, algorithm="RS256", headers={"kid": "rsa-1"})


SECURED_BASE = "http://testserver/fhir"  # the base URL (and token audience) of the secured test apps


def secured_app(database_url: str, issuer: TestIssuer, **settings):
    """An app with authentication on, trusting ``issuer``'s keys (the caller disposes of it)."""
    from fhir_server.app import create_app

    return create_app({"DATABASE_URL": database_url, "TESTING": True, "BASE_URL": SECURED_BASE,
                       "AUTH_JWKS": str(issuer.jwks_path), "AUTH_ISSUER": ISSUER, **settings})


def built_access_world(app, issuer: TestIssuer):
    """The 25-resident world of access_world, written by a system client of ``app``."""
    from access_world import AccessWorld

    client = app.test_client()
    admin = issuer.headers("system/*.cruds")

    def send(method, url, body):
        response = client.open(f"/fhir/{url}", method=method, json=body, headers=admin)
        return response.status_code, response.get_json()

    return AccessWorld(uuid.uuid4().hex[:10]).build(send)


def principal_headers(issuer: TestIssuer, world, who: str = "doctor A") -> dict[str, str]:
    """Request headers with the token of one of the access world's principals."""
    scope, claims = world.principals()[who]
    return issuer.headers(scope, **claims)


def audit_events(client, issuer: TestIssuer, query: str) -> list[dict]:
    """The AuditEvents a search finds, read by a system client (first 100)."""
    bundle = client.get(f"/fhir/AuditEvent?{query}&_count=100", headers=issuer.headers("system/*.rs")).get_json()
    return [e["resource"] for e in bundle.get("entry", [])]
