"""Settings from environment variables (``JIAYI_*``), overridable by ``create_app(overrides)``."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_DATABASE = "sqlite:///jiayi.sqlite3"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE
    base_url: str | None = None  # public base URL (…/fhir) when behind a proxy; else from the request
    allowed_hosts: str | None = None  # without base_url: Host headers believed (comma list); unset: loopback only
    max_body_bytes: int = 8 * 1024 * 1024  # larger bodies: 413
    max_depth: int = 64  # deeper JSON/XML nesting: 400
    migrate_on_start: bool = True
    load_ig: bool = True  # store the Jiayi IG (profiles/, mappings/) at start when it changed
    testing: bool = False
    validation: str = "default"  # "strict": also validate against non-Jiayi profiles a resource claims
    profiles_dir: str | None = None  # extra StructureDefinitions/ValueSets to validate with, besides profiles/
    # security (SPEC §6, Appendix A): unset JWKS = development mode, open, loopback only
    auth_jwks: str | None = None  # JIAYI_AUTH_JWKS: a JWKS file path or https:// URL
    auth_issuer: str | None = None  # JIAYI_AUTH_ISSUER: the required "iss"
    auth_audience: str | None = None  # JIAYI_AUTH_AUDIENCE: the required "aud" (default: the base URL)
    auth: str = ""  # JIAYI_AUTH=off: development mode on a non-loopback address, said explicitly
    # JIAYI_AUTH_OPTIONAL (set by `jiayi serve --demo` on loopback): with a key set, a request without
    # a token is the open development principal, and a token, when sent, is verified and honoured
    auth_optional: bool = False
    auth_authorize_url: str | None = None  # the identity provider's endpoints, for SMART discovery
    auth_token_url: str | None = None
    audit: str = "auto"  # AuditEvents: "auto" = when authentication is configured, "on", "off"
    max_included: int = 1000  # _include/_revinclude resources per search page; past it a warning entry
    request_timeout: float = 60.0  # seconds of wall clock per request; past it 503 (0: no budget)
    request_cpu_timeout: float = 30.0  # seconds of the request thread's CPU; past it 503 (0: no budget)
    # Bulk Data export (issue 20): where the NDJSON files go, how big one grows, how long they are kept
    export_dir: str = "jiayi-exports"  # JIAYI_EXPORT_DIR: shared by every process that serves or works
    export_file_bytes: int = 256 * 1024 * 1024  # a type's NDJSON is split into files of at most this size
    export_expiry: float = 24 * 3600.0  # seconds a finished export (manifest and files) stays downloadable
    export_jobs_per_client: int = 2  # exports queued or running at once per client; more: 429
    export_workers: int = 2  # exports one worker process runs at once
    export_page: int = 5000  # resources read per query (and per checkpoint)
    export_lease: float = 60.0  # seconds without a checkpoint after which another worker takes a job over
    export_pause: float = 0.0  # seconds between pages: lets a busy small server's requests go first
    background_thread: bool = True  # JIAYI_BACKGROUND_THREAD: `jiayi serve` runs the background jobs itself
    # subscriptions (issue 20): "on" = `jiayi serve` runs the delivery worker in each process
    subscription_delivery: str = "on"
    subscription_retry_hours: float = 24.0  # failed notifications are retried this long, then status error
    subscription_timeout: float = 10.0  # seconds a subscriber's endpoint has to answer a POST
    subscription_poll_seconds: float = 1.0  # the worker's look for due retries and other processes' writes
    # the web console (/console): an OpenID Connect client of the identity provider above
    console_client_id: str = "jiayi-console"  # JIAYI_CONSOLE_CLIENT_ID: its client id at the provider
    console_client_secret: str | None = None  # JIAYI_CONSOLE_CLIENT_SECRET: when registered confidential
    console_scope: str = "openid fhirUser user/*.cruds"  # JIAYI_CONSOLE_SCOPE: the scopes it asks for
    console_secret_key: str | None = None  # JIAYI_CONSOLE_SECRET_KEY: signs its session cookie (all workers)
    # JIAYI_CONSOLE_DEV_LOGIN (set by `jiayi serve --demo` only): the development issuer's sign-in page
    console_dev_login: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}  # each coerced to its field's type by _coerce
        for f in fields(cls):
            raw = env.get(f"JIAYI_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(raw, f.type)
        return cls(**values)

    def with_overrides(self, overrides: dict[str, object]) -> Settings:
        known = {f.name for f in fields(self)}
        chosen: dict[str, Any] = {k.lower(): v for k, v in overrides.items() if k.lower() in known}
        return replace(self, **chosen)


def _coerce(raw: str, kind: object) -> object:
    kind = str(kind)
    if "bool" in kind:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    return raw
