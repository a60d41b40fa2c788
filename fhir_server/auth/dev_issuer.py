"""The development issuer (``jiayi serve --demo`` / ``jiayi token``): a key pair made at first
start and kept beside the database, never in the repository, so that a demo can show the
whole SMART flow with curl.  Only ``serve --demo`` points the server at its key set; nothing
else ever trusts it."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ISSUER = "urn:jiayi:development-issuer"
KID = "jiayi-development"


def key_files(database_url: str) -> tuple[Path, Path]:
    """(private key PEM, public JWKS): beside a SQLite file, else in ``~/.jiayi``."""
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        stem = Path(database_url.removeprefix("sqlite:///"))
    else:
        folder = Path.home() / ".jiayi"
        stem = folder / f"dev-{uuid.uuid5(uuid.NAMESPACE_URL, database_url).hex[:12]}"
    return stem.with_name(stem.name + ".dev-key.pem"), stem.with_name(stem.name + ".dev-jwks.json")


def ensure_keys(database_url: str) -> Path:
    """Make the key pair when absent; returns the JWKS file the server is to trust."""
    private_path, jwks_path = key_files(database_url)
    if not private_path.exists():
        private_path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
    if not jwks_path.exists():
        public = _private_key(private_path).public_key()
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        jwk.update({"kid": KID, "use": "sig", "alg": "ES256"})
        jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2), encoding="utf-8")
    return jwks_path


def issue(database_url: str, claims: dict, lifetime: int = 3600) -> str:
    """A token with ``claims`` signed by the development key (made by ``jiayi serve --demo``)."""
    private_path, _ = key_files(database_url)
    if not private_path.exists():
        raise FileNotFoundError(f"no development key for this database: run 'jiayi serve --demo' first "
                                f"(looked for {private_path.name})")
    now = int(time.time())
    body = {"iss": ISSUER, "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(body, _private_key(private_path), algorithm="ES256", headers={"kid": KID})


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def verify(database_url: str, token: str, audience: str) -> dict:
    """The claims of a token this issuer signed for ``audience`` (the demo sign-in's codes);
    raises ``jwt.InvalidTokenError``."""
    private_path, _ = key_files(database_url)
    public = _private_key(private_path).public_key()
    return jwt.decode(token, public, algorithms=["ES256"], issuer=ISSUER, audience=audience)
