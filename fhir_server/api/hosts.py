"""The base URL the server's links name (``Location``, Bundle links, fullUrl), and the Host
headers it believes (issue 18: a link must not follow whatever Host a client sends).

- ``JIAYI_BASE_URL`` set: every link starts with it; the Host header is not used.
- else ``JIAYI_ALLOWED_HOSTS`` (comma-separated ``host`` or ``host:port``; ``*`` for any):
  links follow the Host header when it is on the list, and any other Host is a 400.
- else (development): only loopback names (localhost, 127.0.0.1, [::1]) are believed.
"""

from __future__ import annotations

from flask import request

from fhir_server.config import Settings
from fhir_server.core.errors import BadRequest

LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def base_url(settings: Settings) -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/")
    host = request.host.lower()
    if not _believed(host, settings.allowed_hosts):
        raise BadRequest(f"Host '{host[:100]}' is not served here: set JIAYI_BASE_URL (the public base URL) or "
                         "list the host in JIAYI_ALLOWED_HOSTS", code="security")
    return request.url_root.rstrip("/") + "/fhir"


def _believed(host: str, allowed: str | None) -> bool:
    name = host.rpartition(":")[0] if ":" in host and not host.endswith("]") else host
    if allowed:
        names = {h.strip().lower() for h in allowed.split(",") if h.strip()}
        return "*" in names or host in names or name in names
    return name in LOOPBACK
