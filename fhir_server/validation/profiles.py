"""One call for callers outside the server (the benchmark harness, scripts):
``validate_profile(resource, profile_url) -> list[Issue]`` with the IG's profiles
(``profiles/`` plus ``JIAYI_PROFILES_DIR``), compiled once per process."""

from __future__ import annotations

from functools import cache

from fhir_server.config import Settings
from fhir_server.core.errors import Issue
from fhir_server.validation.ig import conformance
from fhir_server.validation.validator import Validator


@cache
def _validator() -> Validator:
    settings = Settings.from_env()
    return Validator(conformance(settings.profiles_dir), strict=settings.validation == "strict")


def validate_profile(resource: dict, profile: str | None = None) -> list[Issue]:
    """Every issue of ``resource`` against ``profile`` (None: the profiles it claims); raises
    :class:`~fhir_server.validation.conformance.UnknownProfile` for an unknown profile."""
    return _validator().validate(resource, profile)
