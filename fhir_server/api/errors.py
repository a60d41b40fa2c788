"""Every error is an OperationOutcome with the right status (SPEC §2, §6); an unexpected
exception is a 500 whose body says nothing about the server's insides."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from fhir_server.api.negotiation import JSON, response_format
from fhir_server.api.responses import serialize
from fhir_server.core.errors import FHIRError, Issue, operation_outcome

log = logging.getLogger("jiayi.api")
HTTP_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def outcome_response(status: int, outcome: dict, headers: dict[str, str] | None = None) -> Response:
    media_type = getattr(g, "media_type", None) or _safe_format()
    pretty = getattr(g, "pretty", False)
    return Response(serialize(outcome, media_type, pretty), status=status, headers=headers or {},
                    content_type=f"{media_type}; charset=utf-8")


def _safe_format() -> str:
    try:
        return response_format(request.args.get("_format"), request.headers.get("Accept"))
    except FHIRError:
        return JSON


def register(app: Flask) -> None:
    @app.errorhandler(FHIRError)
    def fhir_error(error: FHIRError) -> Response:
        return outcome_response(error.status, error.outcome(), error.headers)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        message = f"The body is larger than the limit of {limit} bytes"
        return outcome_response(413, operation_outcome([Issue("too-costly", message)]))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        issue = Issue(HTTP_CODES.get(status, "processing"), error.description or error.name)
        return outcome_response(status, operation_outcome([issue]))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.exception("unexpected error (incident %s) on %s %s", incident, request.method, request.path)
        message = f"Internal server error (incident {incident}); the details are in the server log"
        return outcome_response(500, operation_outcome([Issue("exception", message, severity="fatal")]))
