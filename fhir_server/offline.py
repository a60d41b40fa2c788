"""``jiayi validate FILE [--profile URL]``: validation without a server (SPEC §3, Appendix A CLI).

A resource, or a Bundle and every entry, against base R4 (structure and invariants) and the
profile given — or, without ``--profile``, the profiles each resource claims in
``meta.profile``.  With ``--profile`` of a non-Bundle type and a Bundle file, every entry of
that type is validated against it (references between entries resolved inside the Bundle).
Profiles come from the IG (``profiles/``) and ``JIAYI_PROFILES_DIR``.  Prints one line per
issue with its location; returns the number of errors (the CLI exits 1 when any).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fhir_server.config import Settings
from fhir_server.core import jsonio
from fhir_server.core.errors import FHIRError, Issue
from fhir_server.formats.xml import xml_to_resource
from fhir_server.validation import UnknownProfile, Validator, ig
from fhir_server.validation.validator import bundle_resolver, dedupe

UTF8_BOM = b"\xef\xbb\xbf"


def parse_document(data: bytes) -> object:
    """A JSON or XML file as JSON-shaped data, the format told by its first character after an
    optional UTF-8 byte-order mark and white space (:class:`FHIRError` when it is neither)."""
    data = data.removeprefix(UTF8_BOM)
    return xml_to_resource(data) if data.lstrip()[:1] == b"<" else jsonio.loads(data, 256)


def default_validator() -> Validator:
    settings = Settings.from_env()
    return Validator(ig.conformance(settings.profiles_dir), strict=settings.validation == "strict")


def document_issues(validator: Validator, data: bytes, profile: str | None = None) -> list[Issue]:
    """Every issue of a file's bytes: the parse errors, or the validator's issues."""
    try:
        resource = parse_document(data)
    except FHIRError as error:
        return list(error.issues) or [Issue("structure", "The file cannot be read as FHIR JSON or XML")]
    return _issues(validator, resource, profile)


def validate_file(path: str, profile: str | None, echo: Callable[[str], None] = print) -> int:
    data = Path(path).read_bytes()
    try:
        resource = parse_document(data)
    except FHIRError as error:
        for issue in error.issues:
            echo(_line(path, issue))
        return len(error.issues) or 1
    validator = default_validator()
    try:
        issues = _issues(validator, resource, profile)
    except UnknownProfile:
        echo(f"{path}: error: unknown profile '{profile}' (no StructureDefinition with that canonical URL in the "
             "implementation guide or JIAYI_PROFILES_DIR)")
        return 1
    for issue in issues:
        echo(_line(path, issue))
    errors = sum(1 for i in issues if i.is_error)
    echo(f"{path}: {errors} error(s), {len(issues) - errors} warning(s)/note(s)")
    return errors


def _issues(validator: Validator, resource: object, profile: str | None) -> list[Issue]:
    per_entry = (profile is not None and isinstance(resource, dict) and resource.get("resourceType") == "Bundle"
                 and validator.conformance.knows(profile) and validator.conformance.type_of(profile) != "Bundle")
    if not per_entry:
        return validator.validate(resource, profile)
    assert isinstance(resource, dict) and profile is not None
    issues = validator.validate(resource)
    wanted = validator.conformance.type_of(profile)
    resolve = bundle_resolver(resource)
    for i, entry in enumerate(resource.get("entry") or []):
        inner = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(inner, dict) and inner.get("resourceType") == wanted:
            issues += validator.profile_issues(inner, [profile], f"Bundle.entry[{i}].resource", resolve, lenient=False)
    return dedupe(issues)


def _line(path: str, issue: Issue) -> str:
    where = ", ".join(issue.expression) or "-"
    return f"{path}: {issue.severity}: [{issue.code}] {where}: {issue.diagnostics}"
