"""Is this R4 resource acceptable, and why not?  (FHIR R4 §2 baseline; SPEC §3 "Validation".)

- ``validate_resource(resource, expected_type=None) -> list[Issue]``: the base R4 structure
  (the official R4 JSON Schema first, then the checks it cannot express), every issue
  collected with a FHIRPath-style ``expression``; used on every write.
- :class:`Validator` (``validator.py``): base structure + base R4 invariants + profiles
  (StructureDefinition snapshots, :mod:`.profile`), for ``$validate``, ``jiayi validate`` and
  the write path of resources claiming a Jiayi profile (:mod:`.on_write`).
- :func:`validation_rate`: resources per second against a profile (the benchmark harness).

Callers decide what to raise (usually ``Unprocessable(issues)`` when any issue ``is_error``).
"""

from fhir_server.validation.conformance import Conformance, UnknownProfile
from fhir_server.validation.rate import validation_rate
from fhir_server.validation.resource import validate_resource
from fhir_server.validation.validator import Validator

__all__ = ["Conformance", "UnknownProfile", "Validator", "validate_resource", "validation_rate"]
