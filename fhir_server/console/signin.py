"""Sign-in: the OpenID Connect authorization code flow with PKCE (RFC 7636), as a SMART app
does it, against the configured identity provider (``JIAYI_AUTH_AUTHORIZE_URL``,
``JIAYI_AUTH_TOKEN_URL``) or, in demo mode only, the development issuer (:mod:`.dev_login`).

The access token is kept in the signed session cookie (HttpOnly, SameSite=Lax) and sent with
every FHIR call the console makes; the server verifies it each time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

from flask import abort, current_app, redirect, request, session, url_for

from fhir_server.auth import InvalidToken


@dataclass(frozen=True)
class SignedIn:
    token: str | None  # None: the server is in open development mode (no key set)
    fhir_user: str | None
    region: str | None
    name: str
    scope: str
    expires: float

    @property
    def practitioner(self) -> str | None:
        kind, _, ident = (self.fhir_user or "").partition("/")
        return ident if kind == "Practitioner" else None


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def current() -> SignedIn | None:
    data = session.get("user")
    if not isinstance(data, dict) or data.get("expires", 0) < time.time():
        return None
    return SignedIn(**data)


def endpoints() -> tuple[str | None, str | None]:
    """(authorize, token) of the identity provider the console signs in with."""
    settings = current_app.config["JIAYI"]
    if current_app.extensions.get("jiayi.console.dev_login"):
        return url_for("console.dev_authorize", _external=True), url_for("console.dev_token", _external=True)
    return settings.auth_authorize_url, settings.auth_token_url


def fhir_base() -> str:
    settings = current_app.config["JIAYI"]
    return settings.base_url or request.url_root.rstrip("/") + "/fhir"


def start(next_url: str) -> object:
    """Redirect to the provider's authorization endpoint with state, nonce and the PKCE challenge."""
    settings = current_app.config["JIAYI"]
    authenticator = current_app.extensions["jiayi.authenticator"]
    if authenticator.development:  # no key set: the API itself is open, nothing to sign in to
        session["user"] = {"token": None, "fhir_user": None, "region": None, "name": "development (open)",
                           "scope": "*", "expires": time.time() + 12 * 3600}
        return redirect(next_url)
    authorize, _ = endpoints()
    if not authorize:
        abort(503, "The console cannot sign in: set JIAYI_AUTH_AUTHORIZE_URL and JIAYI_AUTH_TOKEN_URL "
                   "(the identity provider's endpoints)")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    session["signin"] = {"state": state, "verifier": verifier, "next": next_url}
    query = {"response_type": "code", "client_id": settings.console_client_id,
             "redirect_uri": url_for("console.callback", _external=True), "scope": settings.console_scope,
             "state": state, "nonce": secrets.token_urlsafe(16), "aud": fhir_base(),
             "code_challenge": challenge, "code_challenge_method": "S256"}
    return redirect(authorize + ("&" if "?" in authorize else "?") + urllib.parse.urlencode(query))


def finish() -> object:
    """The redirect back: check the state, exchange the code (with the verifier), verify the token."""
    pending = session.pop("signin", None)
    if not pending or request.args.get("state") != pending.get("state"):
        abort(400, "The sign-in answer does not match a sign-in this browser started (state); sign in again")
    if request.args.get("error"):
        abort(401, f"The identity provider refused the sign-in: {request.args.get('error')}")
    code = request.args.get("code")
    if not code:
        abort(400, "The identity provider sent no authorization code")
    answer = exchange(code, pending["verifier"])
    token = answer.get("access_token")
    if not isinstance(token, str):
        abort(401, "The identity provider's token answer has no access_token")
    authenticator = current_app.extensions["jiayi.authenticator"]
    try:
        principal = authenticator.principal(f"Bearer {token}", request.remote_addr, "", fhir_base())
    except InvalidToken as error:
        abort(401, f"The token the identity provider issued is not accepted by this server: {error}")
    session["user"] = {"token": token, "fhir_user": principal.fhir_user,
                       "region": principal.region, "name": str(answer.get("jiayi_display") or principal.subject),
                       "scope": str(answer.get("scope") or ""),
                       "expires": time.time() + int(answer.get("expires_in") or 3600)}
    return redirect(pending.get("next") or url_for("console.home"))


def exchange(code: str, verifier: str) -> dict:
    settings = current_app.config["JIAYI"]
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": url_for("console.callback", _external=True), "client_id": settings.console_client_id}
    if current_app.extensions.get("jiayi.console.dev_login"):
        from fhir_server.console import dev_login

        return dev_login.token_answer(form)  # the same exchange as its token endpoint, without a hop
    _, token_url = endpoints()
    if not token_url:
        abort(503, "The console cannot sign in: JIAYI_AUTH_TOKEN_URL is not set")
    if settings.console_client_secret:
        form["client_secret"] = settings.console_client_secret
    request_ = urllib.request.Request(token_url, data=urllib.parse.urlencode(form).encode("ascii"),
                                      headers={"Content-Type": "application/x-www-form-urlencoded",
                                               "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request_, timeout=10) as response:  # noqa: S310 (a configured https URL)
            return json.loads(response.read())
    except (OSError, ValueError) as error:
        abort(502, f"The identity provider's token endpoint did not answer usably: {error}")
