"""``jiayi validate FILE``: validation without a server (a resource or every entry of a Bundle)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fhir_server.core import jsonio
from fhir_server.core.errors import FHIRError, Issue
from fhir_server.formats.xml import xml_to_resource
from fhir_server.validation import validate_resource


def validate_file(path: str, profile: str | None, echo: Callable[[str], None] = print) -> int:
    data = Path(path).read_bytes()
    try:
        resource = xml_to_resource(data) if data.lstrip()[:1] == b"<" else jsonio.loads(data, 256)
    except FHIRError as error:
        for issue in error.issues:
            echo(_line(path, issue))
        return len(error.issues)
    if profile is not None and profile != f"http://hl7.org/fhir/StructureDefinition/{resource.get('resourceType')}":
        echo(f"{path}: error: unknown profile '{profile}'")
        return 1
    issues = validate_resource(resource, None)
    for issue in issues:
        echo(_line(path, issue))
    errors = sum(1 for i in issues if i.is_error)
    echo(f"{path}: {errors} error(s), {len(issues) - errors} warning(s)/note(s)")
    return errors


def _line(path: str, issue: Issue) -> str:
    where = ", ".join(issue.expression) or "-"
    return f"{path}: {issue.severity}: [{issue.code}] {where}: {issue.diagnostics}"
