"""Token → principal; "may this principal do this?" (SPEC §6).  Until authentication is
configured every request gets the development principal; the API layer asks
:func:`principal_for` before any handler runs, and the principal travels on the request."""

from __future__ import annotations

from dataclasses import replace

from fhir_server.auth.principal import ANONYMOUS, Principal


def principal_for(authorization: str | None, remote_addr: str | None) -> Principal:
    """The principal of a request.  Development mode: everyone is the development principal."""
    return replace(ANONYMOUS, remote_addr=remote_addr)


__all__ = ["Principal", "principal_for"]
