"""PATCH bodies (FHIR R4 http.html#patch): JSON Patch (RFC 6902) and FHIRPath Patch.

Both take a resource as JSON and return a patched copy, raising :class:`FHIRError`
(400 for a malformed patch, 422 for one that cannot be applied).  Storing the result,
versioning and validating it belong to ``interactions/patch``.
"""

from fhir_server.patch.fhirpath_patch import apply_fhirpath_patch
from fhir_server.patch.json_patch import apply_json_patch

__all__ = ["apply_fhirpath_patch", "apply_json_patch"]
