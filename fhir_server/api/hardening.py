"""Per-request guards every answer gets (issue 18): the request's time budget
(:mod:`fhir_server.core.budget`, ``JIAYI_REQUEST_TIMEOUT`` and ``JIAYI_REQUEST_CPU_TIMEOUT``) and
headers that stop a browser from reading a FHIR body as something else."""

from __future__ import annotations

from flask import Flask, Response

from fhir_server.core import budget


def register(app: Flask) -> None:
    @app.before_request
    def _start_budget() -> None:
        settings = app.config["JIAYI"]
        budget.start(settings.request_timeout, settings.request_cpu_timeout)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"  # a body is never sniffed into HTML
        return response

    @app.teardown_request
    def _end_budget(_error: BaseException | None) -> None:
        budget.clear()
