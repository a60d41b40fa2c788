"""Token → principal; "may this principal do this?" (SPEC §6).  For now every request gets
the development principal; the seam is ``g.principal``, set before any handler runs."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask, g, request

from fhir_server.auth.principal import ANONYMOUS, Principal


def register(app: Flask) -> None:
    @app.before_request
    def _principal() -> None:
        g.principal = replace(ANONYMOUS, remote_addr=request.remote_addr)


__all__ = ["Principal", "register"]
