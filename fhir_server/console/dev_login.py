"""The development issuer's sign-in (demo mode only: ``jiayi serve --demo`` sets
``JIAYI_CONSOLE_DEV_LOGIN`` when it configures the development issuer): an authorization
endpoint with a picker of the demo district's people, and a token endpoint that checks the
PKCE verifier and signs a token with the development key (auth.dev_issuer).

It plays the identity provider, so it knows the people: it reads the directory
(PractitionerRole, CareTeam) through the FHIR API with a short-lived ``system/`` token of its
own, never the residents.  The authorization code is itself a signed short-lived token, so
any worker can redeem it; a code is redeemed once per process.
"""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.parse

import jwt
from flask import abort, current_app, jsonify, redirect, render_template, request

from fhir_server.auth import dev_issuer
from fhir_server.console.fhir_client import FhirClient
from fhir_server.console.signin import fhir_base

CODE_AUDIENCE = "urn:jiayi:development-issuer:authorization-code"
OFFICER_REGION = "Organization/org-nhc"  # the demo district's health commission
_redeemed: dict[str, float] = {}


def enabled(settings) -> bool:
    return bool(settings.console_dev_login and settings.auth_issuer == dev_issuer.ISSUER and settings.auth_jwks)


def people() -> list[dict]:
    """Who may sign in: each family-doctor team's lead, the hospital staff, the district officer."""
    client = _directory_client()
    people: list[dict] = []
    seen: set[str] = set()
    for team in client.search("CareTeam?status=active&_count=50"):
        for participant in team.get("participant") or []:
            roles = [c.get("code") for r in participant.get("role") or [] for c in r.get("coding") or []]
            member = participant.get("member") or {}
            ref = member.get("reference") or ""
            if "family-doctor" in roles and ref.startswith("Practitioner/") and ref not in seen:
                seen.add(ref)
                people.append({"key": ref, "name": member.get("display") or ref, "role": "family-doctor",
                               "where": team.get("name") or ""})
    organizations = {f"Organization/{o['id']}": o.get("name") or o["id"]
                     for o in client.search("Organization?_count=200&_elements=name")}
    for role in client.search("PractitionerRole?_count=100"):
        practitioner = role.get("practitioner") or {}
        ref = practitioner.get("reference") or ""
        org = (role.get("organization") or {}).get("reference") or ""
        if ref in seen or not org.startswith("Organization/org-hosp"):
            continue
        seen.add(ref)
        people.append({"key": ref, "name": practitioner.get("display") or ref, "role": "hospital",
                       "where": organizations.get(org, org)})
    people.append({"key": "officer", "name": "区卫健委考核专员", "role": "officer",
                   "where": organizations.get(OFFICER_REGION, OFFICER_REGION)})
    people.append({"key": "engineer", "name": "集成工程师", "role": "engineer", "where": "system/*.rs"})
    return people


def claims_for(key: str, name: str, client_id: str) -> dict:
    if key == "officer":
        return {"sub": "officer-org-nhc", "jiayi_region": OFFICER_REGION, "scope": "openid user/*.rs",
                "client_id": client_id, "jiayi_display": name}
    if key == "engineer":
        return {"sub": "integration-engineer", "scope": "openid system/*.rs", "client_id": client_id,
                "jiayi_display": name}
    if not key.startswith("Practitioner/"):
        abort(400, "Pick a person from the list")
    return {"sub": key, "fhirUser": key, "scope": "openid fhirUser user/*.cruds", "client_id": client_id,
            "jiayi_display": name}


def authorize() -> object:
    settings = current_app.config["JIAYI"]
    args = request.values
    if args.get("response_type") != "code" or args.get("code_challenge_method") != "S256" \
            or not args.get("code_challenge") or not args.get("redirect_uri"):
        abort(400, "authorization code with PKCE (S256) and a redirect_uri expected")
    if not _same_origin(args["redirect_uri"]):
        abort(400, "redirect_uri must be on this server")
    if request.method == "GET":
        return render_template("console/dev_login.html", people=people(), args=args)
    picked = args.get("person") or ""
    names = {p["key"]: f"{p['name']}（{p['where']}）" for p in people()}
    if picked not in names:
        abort(400, "Pick a person from the list")
    code = dev_issuer.issue(settings.database_url, {
        "aud": CODE_AUDIENCE, "challenge": args["code_challenge"], "redirect_uri": args["redirect_uri"],
        "claims": claims_for(picked, names[picked], args.get("client_id") or settings.console_client_id),
        "audience": settings.auth_audience or args.get("aud") or fhir_base()}, lifetime=120)
    query = urllib.parse.urlencode({"code": code, "state": args.get("state") or ""})
    return redirect(args["redirect_uri"] + ("&" if "?" in args["redirect_uri"] else "?") + query)


def token() -> object:
    return jsonify(token_answer(request.form))


def token_answer(form) -> dict:
    """The token endpoint's answer to an authorization_code grant with its PKCE verifier."""
    settings = current_app.config["JIAYI"]
    if form.get("grant_type") != "authorization_code":
        abort(400, "unsupported_grant_type")
    try:
        code = dev_issuer.verify(settings.database_url, form.get("code") or "", CODE_AUDIENCE)
    except jwt.InvalidTokenError:
        abort(400, "invalid_grant: the code is unknown or expired")
    verifier = (form.get("code_verifier") or "").encode("ascii", "replace")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode("ascii")
    if challenge != code.get("challenge") or form.get("redirect_uri") != code.get("redirect_uri"):
        abort(400, "invalid_grant: the code_verifier or redirect_uri does not match")
    now = time.time()
    for jti in [j for j, until in _redeemed.items() if until < now]:
        del _redeemed[jti]
    if code["jti"] in _redeemed:
        abort(400, "invalid_grant: the code was used already")
    _redeemed[code["jti"]] = code["exp"]
    claims = dict(code["claims"])
    display = claims.pop("jiayi_display", None)
    lifetime = 8 * 3600
    access = dev_issuer.issue(settings.database_url, {**claims, "aud": code["audience"]}, lifetime)
    return {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": claims["scope"],
            "jiayi_display": display}


def _directory_client() -> FhirClient:
    settings = current_app.config["JIAYI"]
    token = dev_issuer.issue(settings.database_url, {
        "sub": "jiayi-development-issuer", "client_id": "jiayi-development-issuer",
        "aud": settings.auth_audience or fhir_base(),
        "scope": "system/PractitionerRole.rs system/CareTeam.rs system/Organization.rs"}, lifetime=60)
    return FhirClient(current_app.extensions["jiayi.router"], current_app.extensions["jiayi.authenticator"],
                      token, fhir_base(), request.remote_addr)


def _same_origin(url: str) -> bool:
    return url.startswith(request.url_root.rstrip("/") + "/")
