"""The authentication options every adapter command that talks to the FHIR server takes
(``jiayi import``, ``export``, ``hl7 listen``, ``hl7 send``): a bearer token, or OAuth2
client credentials that the adapter exchanges for one at the token URL."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

from .fhir_client import Auth, auth_from_options

AUTH_KEYS = ("token", "client_id", "client_secret", "token_url", "scope")


def auth_options(command: Callable) -> Callable:
    """Adds --token/--client-id/--client-secret/--token-url/--scope; the command receives ``auth``."""
    options = [
        click.option("--token", envvar=["JIAYI_TOKEN", "JIAYI_HL7_TOKEN"], default=None,
                     help="Bearer token for the FHIR server (env JIAYI_TOKEN)."),
        click.option("--client-id", envvar="JIAYI_CLIENT_ID", default=None,
                     help="OAuth2 client credentials: the client id (env JIAYI_CLIENT_ID)."),
        click.option("--client-secret", envvar="JIAYI_CLIENT_SECRET", default=None,
                     help="OAuth2 client credentials: the secret (env JIAYI_CLIENT_SECRET)."),
        click.option("--token-url", envvar="JIAYI_TOKEN_URL", default=None,
                     help="OAuth2 token endpoint of the identity provider (env JIAYI_TOKEN_URL)."),
        click.option("--scope", envvar="JIAYI_SCOPE", default="system/*.cruds", show_default=True,
                     help="Scopes asked for with client credentials (env JIAYI_SCOPE)."),
    ]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {key: kwargs.pop(key, None) for key in AUTH_KEYS}
        try:
            auth = auth_from_options(**values)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        return command(*args, auth=auth, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


__all__ = ["Auth", "auth_options"]
