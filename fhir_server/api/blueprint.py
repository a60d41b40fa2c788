"""The FHIR REST API under ``/fhir``: HTTP in, one interaction, HTTP out (R4 http)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, g, request

from fhir_server.api import errors, hardening, hosts, security
from fhir_server.api.negotiation import FORM, form_items, mime_base, parse_body, response_format
from fhir_server.api.responses import render
from fhir_server.auth import Authenticator
from fhir_server.core.instants import parse_http_date
from fhir_server.interactions.context import FhirRequest, Prefer
from fhir_server.interactions.router import Router

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def create_blueprint(router: Router) -> Blueprint:
    api = Blueprint("fhir", __name__)

    @api.route("/", defaults={"path": ""}, methods=METHODS, strict_slashes=False)
    @api.route("/<path:path>", methods=METHODS)
    def fhir(path: str) -> Response:
        fhir_request = build_request(path)
        g.fhir_request = fhir_request
        return render(fhir_request, router.handle(fhir_request), g.media_type, g.pretty)

    return api


def build_request(path: str) -> FhirRequest:
    g.pretty = request.args.get("_pretty") == "true"
    g.media_type = response_format(request.args.get("_format"), request.headers.get("Accept"))
    settings = current_app.config["JIAYI"]
    data = request.get_data(cache=False)
    content_type = request.headers.get("Content-Type")
    query = list(request.args.items(multi=True))
    body = None
    if mime_base(content_type) == FORM and path.endswith("_search"):
        query += form_items(data)
    elif request.method in ("POST", "PUT", "PATCH"):
        body = parse_body(data, content_type, settings.max_depth)
    return FhirRequest(
        method=request.method,
        path=path,
        query=query,
        body=body,
        content_type=mime_base(content_type) or "application/fhir+json",
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
        if_none_exist=_utf8_header("If-None-Exist"),
        if_modified_since=parse_http_date(request.headers["If-Modified-Since"])
        if "If-Modified-Since" in request.headers else None,
        prefer=Prefer.parse(request.headers.get("Prefer")),
        max_age=None if request.cache_control.no_cache else request.cache_control.max_age,
        only_if_cached=bool(request.cache_control.only_if_cached) and not request.cache_control.no_cache,
        base_url=hosts.base_url(settings),
        principal=g.principal,
    )


def register(app: Flask, router: Router, authenticator: Authenticator) -> None:
    security.register(app, authenticator)
    app.register_blueprint(create_blueprint(router), url_prefix="/fhir")
    errors.register(app)

    hardening.register(app)


def _utf8_header(name: str) -> str | None:
    """HTTP headers arrive as latin-1; clients that send raw UTF-8 (``family=王``) mean UTF-8."""
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
