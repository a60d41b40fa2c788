"""Layer 2: required-strength bindings on CodeableConcept and Coding (FHIR R4 terminologies.html §4.1).

A ``code`` element with a required binding is usually an ``enum`` in the JSON Schema, but not
always (``Immunization.status`` is a plain code there): :func:`check_code` checks those; the
schema cannot check codes inside a CodeableConcept or Coding (e.g.
``AllergyIntolerance.clinicalStatus``, ``Condition.verificationStatus``).  Those are
checked here against ``required-bindings.json``: the ValueSets that
``scripts/generate_definitions.py`` could expand from the official ``valuesets.json``.
Bindings to ValueSets that could not be expanded (filters, external code systems) are
not checked.

Extensible bindings (terminologies.html#extensible: a code from the value set when one
applies, else another code or text) are checked against ``extensible-bindings.json`` the same
way, as warnings only (:func:`check_extensible`): a code outside the value set may be the
right one when no code of the set fits, so it is never refused.
"""

from __future__ import annotations

import json
from functools import cache

from fhir_server.definitions.structures import DATA


@cache
def value_sets() -> dict[str, dict[str, frozenset[str]]]:
    """ValueSet canonical (no version) → code system → codes."""
    data = json.loads((DATA / "required-bindings.json").read_text(encoding="utf-8"))
    return {url: {system: frozenset(codes) for system, codes in systems.items()}
            for url, systems in data["valueSets"].items()}


@cache
def extensible_value_sets() -> dict[str, dict[str, frozenset[str]]]:
    """ValueSet canonical (no version) → code system → codes, of the expandable extensible bindings."""
    data = json.loads((DATA / "extensible-bindings.json").read_text(encoding="utf-8"))
    return {url: {system: frozenset(codes) for system, codes in systems.items()}
            for url, systems in data["valueSets"].items()}


def check_extensible(type_code: str, value: object, binding: str) -> str | None:
    """A message when a coded ``value`` (code, Coding, CodeableConcept) has codes but none from the
    extensible ``binding`` (None when it has one, has only text, or the ValueSet is not known here)."""
    url = binding.split("|")[0]
    systems = extensible_value_sets().get(url)
    if systems is None:
        return None
    if type_code == "code":
        if not isinstance(value, str) or any(value in codes for codes in systems.values()):
            return None
        got = value
    else:
        codings = [value] if type_code == "Coding" else value.get("coding") if isinstance(value, dict) else None
        coded = [c for c in codings if isinstance(c, dict) and "code" in c] if isinstance(codings, list) else []
        if not coded or any(_in_set(c, systems) for c in coded):
            return None
        got = ", ".join(f"{c.get('system')}|{c.get('code')}" if c.get("system") else str(c.get("code"))
                        for c in coded)
    allowed = "; ".join(f"{system}: {', '.join(sorted(codes)[:12])}" for system, codes in systems.items())
    return (f"{got} is not in the extensible value set {url} ({allowed}): use one of its codes when one "
            "applies")


def _in_set(coding: object, systems: dict[str, frozenset[str]]) -> bool:
    if not isinstance(coding, dict):
        return True  # a wrong shape is reported elsewhere
    system, code = coding.get("system"), coding.get("code")
    if any(v is not None and not isinstance(v, str) for v in (system, code)):
        return True  # a system or code that is not a string is reported elsewhere
    codes = systems.get(system) if system is not None else None
    return codes is not None and code in codes


def check_binding(type_code: str, value: dict, binding: str) -> str | None:
    """A message when ``value`` (a Coding or CodeableConcept) has no code from ``binding``."""
    url = binding.split("|")[0]
    systems = value_sets().get(url)
    if systems is None:
        return None
    if type_code == "Coding":
        ok = "code" not in value or _in_set(value, systems)
    else:
        codings = value.get("coding")
        ok = isinstance(codings, list) and any(_in_set(c, systems) for c in codings)
    if ok:
        return None
    allowed = "; ".join(f"{system}: {', '.join(sorted(codes)[:12])}" for system, codes in systems.items())
    return f"No code from the required value set {url} ({allowed})"


def check_code(value: str, binding: str) -> str | None:
    """A message when a ``code`` value is not in its required value set (when it can be expanded)."""
    systems = value_sets().get(binding.split("|")[0])
    if systems is None or any(value in codes for codes in systems.values()):
        return None
    allowed = sorted({c for codes in systems.values() for c in codes})
    return (f"Code '{value}' is not in the required value set {binding.split('|')[0]}; allowed codes: "
            f"{', '.join(allowed[:15])}" + (f", ... ({len(allowed)} codes)" if len(allowed) > 15 else ""))
