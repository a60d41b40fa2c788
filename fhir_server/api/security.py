"""Authentication at the door (SPEC §6): every request gets its principal before any handler
runs (401 when a token is needed and missing or bad, recorded as an AuditEvent with the
client's address and the reason), and SMART discovery is served open."""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from fhir_server.auth import Authenticator, InvalidToken, smart
from fhir_server.core import jsonio

PREFIX = "/fhir"


def base_url() -> str:
    return current_app.config["JIAYI"].base_url or request.url_root.rstrip("/") + PREFIX


def register(app: Flask, authenticator: Authenticator) -> None:
    app.extensions["jiayi.authenticator"] = authenticator

    @app.before_request
    def _principal() -> None:
        path = request.path
        fhir_path = path[len(PREFIX):].lstrip("/") if path == PREFIX or path.startswith(PREFIX + "/") else None
        try:
            g.principal = authenticator.principal(request.headers.get("Authorization"), request.remote_addr,
                                                  fhir_path, base_url())
        except InvalidToken as refused:
            router = app.extensions.get("jiayi.router")
            if router is not None and fhir_path is not None:
                router.audit_unauthenticated(request.method, fhir_path, request.remote_addr, str(refused))
            raise

    @app.get(PREFIX + "/.well-known/smart-configuration")
    def _smart_configuration() -> Response:
        document = smart.configuration(app.config["JIAYI"], base_url())
        return Response(jsonio.dumps(document), content_type="application/json; charset=utf-8")
