"""How fast the validator is (SPEC §8; issue 5 point 7): resources validated per second against
a profile, for the benchmark harness (``benchmarks/validation_rate.py`` calls this).

The instance is an example from the IG that claims the profile (``profiles/``), unless one is
given; the profile is compiled before timing starts, as on a running server.
"""

from __future__ import annotations

import time

from fhir_server.validation.ig import IG_DIRECTORY, conformance, examples
from fhir_server.validation.validator import Validator

CONTRACT = "https://jiayi.dev/fhir/StructureDefinition/jiayi-contract"


def example_for(profile: str) -> dict | None:
    """An example instance of the IG whose ``meta.profile`` names ``profile``."""
    for resource in examples():
        if profile in ((resource.get("meta") or {}).get("profile") or []):
            return resource
    return None


def validation_rate(profile: str = CONTRACT, resource: dict | None = None, seconds: float = 2.0,
                    validator: Validator | None = None) -> dict:
    """``{"profile", "resources", "seconds", "per_second", "errors"}`` after validating for ``seconds``."""
    validator = validator or Validator(conformance())
    resource = resource or example_for(profile)
    if resource is None:
        raise LookupError(f"No example instance claiming {profile} in {IG_DIRECTORY}")
    issues = validator.validate(resource, profile)  # compiles the profile and its FHIRPath once
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count == 0:
        validator.validate(resource, profile)
        count += 1
    return {"profile": profile, "resources": count, "seconds": round(elapsed, 3),
            "per_second": round(count / elapsed, 1), "errors": sum(1 for i in issues if i.is_error)}
