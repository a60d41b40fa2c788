"""A Bundle's signature against the Bundle it signs (FHIR R4 signatures.html, datatypes.html#Signature).

``Bundle.signature`` with ``sigFormat = application/jose`` holds a JWS in compact form
(``header.payload.signature``, base64 in ``data``).  When the JWS carries its payload (it is not
detached) and the ``targetFormat`` names the document canonicalization
(``http://hl7.org/fhir/canonicalization/json#document``: the Bundle without ``id``, ``meta`` and
``signature``), the payload is the content that was signed: a Bundle whose content differs from
it was changed after signing, and the signature cannot be valid for it.  The comparison is of
the JSON content (keys in any order), not of bytes.

Not checked here: the cryptographic verification against the certificate in the JWS header
(``x5c``) — that needs the signer's trust chain, which a server validating a Bundle does not
hold; a detached JWS (empty payload); XML signatures (``application/signature+xml``).
"""

from __future__ import annotations

import base64
import binascii

from fhir_server.core import jsonio
from fhir_server.core.errors import FHIRError, Issue

JOSE = "application/jose"
DOCUMENT_CANONICALIZATION = "http://hl7.org/fhir/canonicalization/json#document"
UNSIGNED = ("id", "meta", "signature")


def signature_issues(bundle: dict, where: str = "Bundle") -> list[Issue]:
    signature = bundle.get("signature")
    if not isinstance(signature, dict) or signature.get("sigFormat") != JOSE:
        return []
    target = signature.get("targetFormat")
    if not isinstance(target, str) or f"canonicalization={DOCUMENT_CANONICALIZATION}" not in target.replace(" ", ""):
        return []
    payload = _payload(signature.get("data"))
    if payload is None:
        return []
    try:
        signed = jsonio.loads(payload)
    except (FHIRError, ValueError):
        return [Issue("invalid", "The signature's JWS payload is not JSON, so it cannot be the signed content of "
                      "this Bundle", expression=(f"{where}.signature.data",))]
    content = {key: value for key, value in bundle.items() if key not in UNSIGNED}
    if signed == content:
        return []
    now = len(jsonio.dumps(content, sort_keys=True))
    return [Issue("invalid", f"The signature cannot be valid: the content it signed ({len(payload):,} bytes) is not "
                  f"this Bundle's content ({now:,} bytes, without id, meta and signature): the Bundle was "
                  "changed after it was signed", expression=(f"{where}.signature",))]


def _payload(data: object) -> bytes | None:
    """The payload of a compact JWS in ``data`` (base64), or None when there is none to compare."""
    if not isinstance(data, str):
        return None
    try:
        jws = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    parts = jws.split(b".")
    if len(parts) != 3 or not parts[1]:
        return None  # not a compact JWS, or a detached one
    try:
        return base64.urlsafe_b64decode(parts[1] + b"=" * (-len(parts[1]) % 4))
    except (binascii.Error, ValueError):
        return None
