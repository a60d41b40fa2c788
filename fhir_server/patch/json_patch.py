"""JSON Patch bodies (FHIR R4 http.html#patch; RFC 6902), applied with ``jsonpatch``.

The RFC semantics are the library's; this module only turns its exceptions into FHIR errors
that say which operation failed and where: a patch that is not a well-formed RFC 6902
document is a 400, one that is well formed but does not apply to this resource (missing
target, failed ``test``) is a 422, as RFC 5789 §2.2 suggests for unprocessable patches.
"""

from __future__ import annotations

import copy

import jsonpatch
import jsonpointer

from fhir_server.core.errors import BadRequest
from fhir_server.patch.errors import cannot_apply


def apply_json_patch(resource: dict, operations: list) -> dict:
    """Apply RFC 6902 ``operations`` to a copy of ``resource``; the input is never changed."""
    patches = _read(operations)
    patched = copy.deepcopy(resource)
    for number, (raw, patch) in enumerate(zip(operations, patches, strict=True)):
        try:
            patched = patch.apply(patched, in_place=True)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise cannot_apply(_message(number, raw, f"test failed: {exc}")) from exc
        except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
            raise cannot_apply(_message(number, raw, str(exc))) from exc
        except jsonpatch.InvalidJsonPatch as exc:  # some checks only run when applied
            raise BadRequest(_message(number, raw, str(exc))) from exc
    if not isinstance(patched, dict):
        raise cannot_apply("JSON Patch result is not a resource (a JSON object)")
    return patched


def _read(operations: list) -> list[jsonpatch.JsonPatch]:
    """One single-operation patch per entry, so a failure can name its operation; 400 if malformed."""
    if not isinstance(operations, list):
        raise BadRequest("A JSON Patch body must be a JSON array of operations")
    patches = []
    for number, raw in enumerate(operations):
        try:
            patches.append(jsonpatch.JsonPatch([raw]))
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise BadRequest(_message(number, raw, str(exc))) from exc
    return patches


def _message(number: int, raw, why: str) -> str:
    """'JSON Patch operation 2 (remove /name/5): …' — numbered from 0 like the array's pointer."""
    if isinstance(raw, dict):
        return f"JSON Patch operation {number} ({raw.get('op')} {raw.get('path')}): {why}"
    return f"JSON Patch operation {number}: {why}"
