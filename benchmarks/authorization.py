"""``jiayi bench --token`` / client credentials: the run's requests against a server with
authentication on (SPEC Appendix A "Security").  The harness's own HTTP clients send the
header; the adapters it runs (``jiayi import`` in-process, ``jiayi hl7 listen`` as a child
process) get the same credentials through the environment variables they read."""

from __future__ import annotations

import os

from adapters.fhir_client import Auth, BearerToken, ClientCredentials, auth_from_options
from benchmarks.load import use_authorization


def authorize_run(auth: Auth) -> None:
    use_authorization(lambda: f"Bearer {token_of(auth)}")
    os.environ.update(environment(auth))


def token_of(auth: Auth) -> str:
    if isinstance(auth, BearerToken):
        return auth.token
    if isinstance(auth, ClientCredentials):
        return auth.token()  # cached until it expires, then fetched again
    raise TypeError(f"unknown authentication {type(auth).__name__}")


def environment(auth: Auth) -> dict[str, str]:
    """The variables with which ``jiayi import`` / ``jiayi hl7 listen`` authenticate the same way."""
    if isinstance(auth, BearerToken):
        return {"JIAYI_TOKEN": auth.token}
    if isinstance(auth, ClientCredentials):
        return {"JIAYI_CLIENT_ID": auth.client_id, "JIAYI_CLIENT_SECRET": auth.client_secret,
                "JIAYI_TOKEN_URL": auth.token_url, **({"JIAYI_SCOPE": auth.scope} if auth.scope else {})}
    return {}


def environment_auth() -> Auth | None:
    """The authentication the environment names (what :func:`environment` set, or the user)."""
    get = os.environ.get
    return auth_from_options(token=get("JIAYI_TOKEN"), client_id=get("JIAYI_CLIENT_ID"),
                             client_secret=get("JIAYI_CLIENT_SECRET"), token_url=get("JIAYI_TOKEN_URL"),
                             scope=get("JIAYI_SCOPE") or "system/*.cruds")
