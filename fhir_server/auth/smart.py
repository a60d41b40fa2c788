"""SMART on FHIR discovery (App Launch 2.x §Conformance): ``[base]/.well-known/smart-configuration``
and the CapabilityStatement's ``rest.security``.  The endpoints are the configured identity
provider's (``JIAYI_AUTH_AUTHORIZE_URL``, ``JIAYI_AUTH_TOKEN_URL``); Jiayi issues no tokens
itself outside the development issuer."""

from __future__ import annotations

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SERVICE_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service"

CAPABILITIES = [
    "launch-standalone", "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
    "sso-openid-connect", "context-standalone-patient", "permission-patient", "permission-user",
    "permission-v1", "permission-v2",
]
SCOPES = [
    "openid", "fhirUser", "launch/patient", "offline_access",
    "patient/*.rs", "patient/*.cruds", "user/*.rs", "user/*.cruds", "system/*.rs", "system/*.cruds",
    "patient/*.read", "patient/*.write", "user/*.read", "user/*.write", "system/*.read", "system/*.write",
]


def configuration(settings, base_url: str) -> dict:
    document = {
        "issuer": settings.auth_issuer,
        "jwks_uri": settings.auth_jwks if (settings.auth_jwks or "").startswith("https://") else None,
        "authorization_endpoint": settings.auth_authorize_url,
        "token_endpoint": settings.auth_token_url,
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "capabilities": CAPABILITIES,
        "code_challenge_methods_supported": ["S256"],
    }
    return {k: v for k, v in document.items() if v is not None}


def rest_security(settings) -> dict:
    """CapabilityStatement.rest.security: the SMART service and the OAuth endpoints."""
    uris = [{"url": name, "valueUri": value} for name, value in
            (("authorize", settings.auth_authorize_url), ("token", settings.auth_token_url)) if value]
    security: dict = {
        "cors": True,
        "service": [{"coding": [{"system": SERVICE_SYSTEM, "code": "SMART-on-FHIR"}], "text": "SMART on FHIR"}],
        "description": "Bearer tokens (SMART on FHIR scopes v1 and v2) verified against the configured keys",
    }
    if uris:
        security["extension"] = [{"url": OAUTH_URIS, "extension": uris}]
    return security
