"""Reading FHIR elements in plain JSON: extensions, codings, references and days.

The one set of accessors the domain rules, services and measures share.  Each is lenient:
an absent or malformed element reads as nothing (an empty list, None), never an error;
validation decides what is malformed, these only read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from fhir_server.core.references import parse_reference


def extensions(element: dict | None, url: str) -> list[dict]:
    """The extensions of ``element`` with ``url``, in order."""
    return [e for e in (element or {}).get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def ext_value(element: dict | None, url: str, kind: str, default: object = None) -> object:
    """``value[kind]`` of the first extension ``url`` that carries one (kind: Reference, Boolean...)."""
    key = "value" + kind
    for e in extensions(element, url):
        if key in e:
            return e[key]
    return default


def _codings(concepts: object) -> Iterable[dict]:
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if isinstance(concept, dict):
            yield from (c for c in concept.get("coding") or [] if isinstance(c, dict))


def has_coding(concepts: object, system: str, codes: Iterable[str] | str | None = None) -> bool:
    """Whether a CodeableConcept (or a list of them) has a coding of ``system`` (with one of ``codes``)."""
    wanted = {codes} if isinstance(codes, str) else set(codes) if codes is not None else None
    return any(c.get("system") == system and (wanted is None or c.get("code") in wanted) for c in _codings(concepts))


def codes_of(concepts: object, system: str) -> list[str]:
    """The codes of ``system`` in a CodeableConcept (or a list of them), in order."""
    return [c["code"] for c in _codings(concepts) if c.get("system") == system and isinstance(c.get("code"), str)]


def ref_key(value: object) -> tuple[str, str] | None:
    """(type, id) of a Reference or a reference string (relative or absolute, version dropped);
    None when it is not a literal reference."""
    text = value.get("reference") if isinstance(value, dict) else value
    parsed = parse_reference(text) if isinstance(text, str) else None
    return (parsed.res_type, parsed.res_id) if parsed else None


def local_ref(value: object) -> str | None:
    """``Type/id`` of a Reference or a reference string; None when it is not literal."""
    key = ref_key(value)
    return f"{key[0]}/{key[1]}" if key else None


def reference_text(value: object) -> str | None:
    """A Reference's ``reference`` as written (no parsing)."""
    text = value.get("reference") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def day_of(value: object) -> date | None:
    """The calendar day of a FHIR date or dateTime, its own offset kept (None when partial)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def moment(value: object) -> datetime | None:
    """A FHIR dateTime or instant as an aware datetime (a bare date: midnight UTC)."""
    if not isinstance(value, str):
        return None
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text if "T" in text else text + "T00:00:00+00:00")
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def profiles(resource: dict | None) -> list[str]:
    """The profiles a resource claims (``meta.profile``)."""
    return list(((resource or {}).get("meta") or {}).get("profile") or [])
