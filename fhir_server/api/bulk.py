"""Bulk Data export over HTTP (Bulk Data IG 2.0.0): the kick-off's headers, the status URL and
the file downloads.  The kick-off itself is the ``$export`` operation, run by the router like
any operation (access, audit); the status and files answer only to the client that asked.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, request, send_file

from fhir_server.api import hosts
from fhir_server.api.blueprint import build_request
from fhir_server.api.negotiation import JSON, mime_base
from fhir_server.api.responses import render
from fhir_server.bulk.files import ExportFolder
from fhir_server.bulk.jobs import JobStore, client_key
from fhir_server.bulk.manifest import answer
from fhir_server.core import jsonio
from fhir_server.core.errors import BadRequest, NotFound
from fhir_server.interactions.router import Router

NDJSON = "application/fhir+ndjson"
CHUNK = 256 * 1024
KICKOFF_ACCEPT = {JSON, "application/json", "*/*", "application/*"}


def register(app: Flask, router: Router, store: JobStore, folder: ExportFolder) -> None:
    bulk = Blueprint("bulk", __name__)

    @bulk.route("/$export", methods=["GET", "POST"])
    @bulk.route("/Patient/$export", methods=["GET", "POST"])
    @bulk.route("/Group/<group_id>/$export", methods=["GET", "POST"])
    def kickoff(group_id: str | None = None) -> Response:
        _require_kickoff_headers()
        fhir_request = build_request(request.path.split("/fhir/", 1)[1])
        g.fhir_request = fhir_request
        return render(fhir_request, router.handle(fhir_request), g.media_type, g.pretty)

    @bulk.route("/$export-status/<job_id>", methods=["GET", "DELETE"])
    def status(job_id: str) -> Response:
        job = store.get(job_id)
        if job is None or job.client != client_key(g.principal):
            raise NotFound("No such export: it never existed, was cancelled, or its files have expired")
        if request.method == "DELETE":
            store.cancel(job_id, job.client)
            return Response(status=202)
        result = answer(job, hosts.base_url(current_app.config["JIAYI"]))
        if result.manifest is None:
            response = Response(status=result.status, headers=result.headers)
            del response.headers["Content-Type"]
            return response
        return Response(jsonio.dumps(result.manifest), status=result.status, headers=result.headers,
                        content_type="application/json; charset=utf-8")

    @bulk.route("/$export-file/<job_id>/<name>", methods=["GET"])
    def download(job_id: str, name: str) -> Response:
        job = store.get(job_id)
        path = folder.file(job_id, name) if job is not None and job.client == client_key(g.principal) else None
        if path is None or job is None or job.status != "completed":
            raise NotFound("No such export file (or its export has expired)")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return Response(_gzipped(path), content_type=NDJSON,
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        response = send_file(path, mimetype=NDJSON, conditional=True)
        response.headers["Vary"] = "Accept-Encoding"
        return response

    app.register_blueprint(bulk, url_prefix="/fhir")


def _require_kickoff_headers() -> None:
    """Bulk Data IG 2.0.0: ``Accept: application/fhir+json`` and ``Prefer: respond-async``."""
    accept = request.headers.get("Accept")
    if not accept:
        raise BadRequest("The $export kick-off needs 'Accept: application/fhir+json'", code="required")
    if not any(mime_base(part) in KICKOFF_ACCEPT for part in accept.split(",")):
        raise BadRequest(f"The $export kick-off answers in application/fhir+json only, not '{accept}'",
                         code="not-supported")
    if "respond-async" not in (request.headers.get("Prefer") or ""):
        raise BadRequest("$export runs asynchronously: send 'Prefer: respond-async'", code="required")


def _gzipped(path: Path) -> Iterator[bytes]:
    """The file gzip-compressed as it is read: never the whole file in memory."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip container
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            if out := compressor.compress(chunk):
                yield out
    yield compressor.flush()
