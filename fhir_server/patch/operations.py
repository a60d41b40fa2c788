"""Read the operations of a FHIRPath Patch ``Parameters`` (FHIR R4 fhirpatch.html, "Parameters").

Each ``operation`` parameter carries parts ``type``, ``path`` and, depending on the type,
``name``, ``value``, ``index``, ``source``, ``destination``.  Everything about the body's
*shape* is checked here, before any operation runs, so a malformed patch is a 400 that
leaves nothing half applied; whether it fits the resource is the operations' business.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.core.errors import BadRequest
from fhir_server.patch.values import PatchValue, read_value

REQUIRED = {
    "add": ("path", "name", "value"),
    "insert": ("path", "index", "value"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}
NO_VALUE = PatchValue(None)


@dataclass(frozen=True, slots=True)
class Operation:
    """One ``operation`` parameter, read and checked for the parts its type needs."""

    number: int
    type: str
    path: str
    # Defaults stand in only for parts this type does not use; REQUIRED guarantees the rest.
    name: str = ""
    value: PatchValue = NO_VALUE
    index: int = 0
    source: int = 0
    destination: int = 0


def read_operations(parameters: dict) -> list[Operation]:
    """The operations of a FHIRPath Patch ``Parameters``, or 400 naming what is malformed."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise BadRequest("A FHIRPath Patch body must be a Parameters resource")
    operations = []
    for number, param in enumerate(_objects(parameters.get("parameter")), start=1):
        if param.get("name") != "operation":
            raise BadRequest(
                f"FHIRPath Patch parameter {number} is named {param.get('name')!r}, not 'operation'"
            )
        operations.append(_operation(number, _objects(param.get("part"))))
    return operations


def _objects(items) -> list[dict]:
    """A JSON array of objects (absent is empty); anything else cannot be a Parameters body."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BadRequest("FHIRPath Patch: Parameters.parameter and .part must be arrays of objects")
    return items


def _operation(number: int, parts: list[dict]) -> Operation:
    by_name: dict[str, dict] = {}
    for part in parts:
        name = str(part.get("name", ""))
        if name in by_name:
            raise BadRequest(f"FHIRPath Patch operation {number} repeats the part {name!r}")
        by_name[name] = part
    op_type = _scalar(by_name["type"], number) if "type" in by_name else None
    if op_type not in REQUIRED:
        raise BadRequest(f"FHIRPath Patch operation {number} has unknown type {op_type!r}")
    missing = [name for name in REQUIRED[op_type] if name not in by_name]
    if missing:
        raise BadRequest(f"FHIRPath Patch operation {number} ({op_type}) lacks {', '.join(missing)}")
    given: dict = {name: _string(by_name[name], number) for name in ("path", "name") if name in by_name}
    for name in ("index", "source", "destination"):
        if name in by_name:
            given[name] = _integer(by_name[name], number)
    if "value" in by_name:
        given["value"] = read_value(by_name["value"])
    return Operation(number, op_type, **given)


def _scalar(part: dict, number: int):
    for key, value in part.items():
        if key.startswith("value"):
            return value
    raise BadRequest(f"FHIRPath Patch operation {number}: part {part.get('name')!r} has no value")


def _string(part: dict, number: int) -> str:
    value = _scalar(part, number)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"FHIRPath Patch operation {number}: {part.get('name')} must be a non-empty string")
    return value


def _integer(part: dict, number: int) -> int:
    value = _scalar(part, number)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(
            f"FHIRPath Patch operation {number}: {part.get('name')} must be a non-negative integer"
        )
    return value
