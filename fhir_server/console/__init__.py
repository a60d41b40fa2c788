"""The web console under ``/console`` (issue 22): worklists, the resident view, the referral
desk, the district dashboard and the integration monitor, for the people who use the data.

Server-rendered (Flask + Jinja), a little plain JavaScript, charts with the vendored Apache
ECharts; a client of Jiayi's own FHIR API with the signed-in user's token (:mod:`.fhir_client`).
"""

from __future__ import annotations

import secrets

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface

from fhir_server.console import dev_login, pages

PREFIX = "/console"


def register(app: Flask) -> None:
    settings = app.config["JIAYI"]
    app.secret_key = settings.console_secret_key or secrets.token_hex(32)
    app.session_interface = _ConsoleSessions()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.extensions["jiayi.console.dev_login"] = dev_login.enabled(settings)
    app.register_blueprint(pages.blueprint(), url_prefix=PREFIX)


class _ConsoleSessions(SecureCookieSessionInterface):
    """The console's signed cookie session, not opened for the FHIR API: a FHIR request never
    reads it, and opening it (the signing serializer, the cookie) was 0.1 ms of every request's
    CPU, 2% of a single create (issue 19)."""

    def open_session(self, app: Flask, request: Request):  # type: ignore[override]
        if request.path.startswith("/fhir/") or request.path == "/fhir":
            return None  # Flask then uses a null session, which is never saved
        return super().open_session(app, request)
