"""The web console under ``/console`` (issue 22): worklists, the resident view, the referral
desk, the district dashboard and the integration monitor, for the people who use the data.

Server-rendered (Flask + Jinja), a little plain JavaScript, charts with the vendored Apache
ECharts; a client of Jiayi's own FHIR API with the signed-in user's token (:mod:`.fhir_client`).
"""

from __future__ import annotations

import secrets

from flask import Flask

from fhir_server.console import dev_login, pages

PREFIX = "/console"


def register(app: Flask) -> None:
    settings = app.config["JIAYI"]
    app.secret_key = settings.console_secret_key or secrets.token_hex(32)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.extensions["jiayi.console.dev_login"] = dev_login.enabled(settings)
    app.register_blueprint(pages.blueprint(), url_prefix=PREFIX)
