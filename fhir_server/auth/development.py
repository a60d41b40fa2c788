"""Development mode (SPEC §6): without ``JIAYI_AUTH_JWKS`` the server is open, which is allowed
only on a loopback address, or elsewhere when ``JIAYI_AUTH=off`` says so explicitly."""

from __future__ import annotations

import ipaddress


class OpenServerRefused(Exception):
    """Serving without authentication on a non-loopback address, not explicitly allowed."""


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def startup_line(host: str, jwks: str | None, auth: str | None, optional: bool = False) -> str:
    """What the server says first about its security; raises :class:`OpenServerRefused`."""
    if jwks and optional:
        if is_loopback(host) or (auth or "").strip().lower() == "off":
            return ("DEVELOPMENT MODE (demo): requests without a token are open on this loopback address; "
                    "bearer tokens of the development issuer (jiayi token) are verified and limit what they see")
        raise OpenServerRefused(
            f"refusing to serve on {host} with JIAYI_AUTH_OPTIONAL: requests without a token would be open; "
            "serve on 127.0.0.1, unset JIAYI_AUTH_OPTIONAL, or set JIAYI_AUTH=off to run open on purpose")
    if jwks:
        return f"authentication: bearer tokens verified against JIAYI_AUTH_JWKS ({_where(jwks)})"
    if is_loopback(host):
        return ("DEVELOPMENT MODE: no authentication (JIAYI_AUTH_JWKS is not set); "
                "serving on a loopback address only")
    if (auth or "").strip().lower() == "off":
        return (f"DEVELOPMENT MODE: no authentication on {host} (JIAYI_AUTH=off): "
                "anyone who reaches this port can read and change every record")
    raise OpenServerRefused(
        f"refusing to serve on {host} without authentication: set JIAYI_AUTH_JWKS to the identity "
        "provider's key set, serve on 127.0.0.1, or set JIAYI_AUTH=off to run open on purpose")


def _where(jwks: str) -> str:
    return jwks if jwks.startswith("https://") else "a key file"
