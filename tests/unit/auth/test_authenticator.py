"""Authenticator: a token seen again gives the principal built the first time (scopes parsed
once), with the request's own network address; another token, or the same after it expired,
is verified and built anew."""

from __future__ import annotations

import time

import pytest
from auth_support import ISSUER, TestIssuer

from fhir_server.auth import Authenticator, InvalidToken
from fhir_server.auth.tokens import TokenVerifier

AUDIENCE = "https://fhir.test/fhir"


@pytest.fixture()
def issuer(tmp_path):
    return TestIssuer(tmp_path, AUDIENCE)


@pytest.fixture()
def authenticator(issuer):
    return Authenticator(TokenVerifier(str(issuer.jwks_path), ISSUER, AUDIENCE))


def test_the_same_token_gives_the_same_principal_with_each_requests_address(issuer, authenticator):
    header = f"Bearer {issuer.token('user/*.rs', fhirUser='Practitioner/d1')}"
    first = authenticator.principal(header, "10.0.0.1", "Patient/p1")
    again = authenticator.principal(header, "10.0.0.1", "Patient/p2")
    elsewhere = authenticator.principal(header, "10.0.0.2", "Patient/p2")
    assert again is first
    assert elsewhere.remote_addr == "10.0.0.2" and first.remote_addr == "10.0.0.1"
    assert elsewhere.scopes is first.scopes and elsewhere.practitioner == "d1"


def test_another_token_is_another_principal(issuer, authenticator):
    doctor = authenticator.principal(f"Bearer {issuer.token('user/*.rs', fhirUser='Practitioner/d1')}",
                                     None, "Patient")
    resident = authenticator.principal(f"Bearer {issuer.token('patient/*.rs', fhirUser='Patient/p9')}",
                                       None, "Patient")
    assert doctor.practitioner == "d1" and resident.own_patient == "p9" and resident.practitioner is None


def test_a_token_past_its_exp_is_verified_again_though_it_was_seen_before(issuer, authenticator, monkeypatch):
    header = f"Bearer {issuer.token('system/*.rs', lifetime=60)}"
    assert authenticator.principal(header, None, "Patient").scopes
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)

    def expired(token, default_audience):  # what PyJWT answers at that hour
        raise InvalidToken("The bearer token is not valid: Signature has expired")

    monkeypatch.setattr(authenticator.verifier, "_verify", expired)
    with pytest.raises(InvalidToken):
        authenticator.principal(header, None, "Patient")
