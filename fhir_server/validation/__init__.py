"""Is this R4 resource acceptable, and why not?  (FHIR R4 §2 baseline.)

``validate_resource(resource, expected_type=None) -> list[Issue]`` is the whole public
surface: the official R4 JSON Schema first, then the checks it cannot express, every issue
collected with a FHIRPath-style ``expression``.  Callers decide what to raise
(usually ``Unprocessable(issues)`` when any issue ``is_error``).
"""

from fhir_server.validation.resource import validate_resource

__all__ = ["validate_resource"]
