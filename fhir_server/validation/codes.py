"""Codes of the code systems this server holds (FHIR R4 terminologies.html §4.1, datatypes.html#Coding).

A Coding whose ``system`` is one of the complete R4 code systems (``r4-terminology.json``: the
HL7 FHIR, v2 and v3 code systems of the official definitions) or of the IG must carry a code
of that system, whatever the element's binding: ``Contract.legalState`` with
``http://hl7.org/fhir/contract-legalstate#invalid-code-test`` names a concept that does not
exist.  Code systems the server does not hold (SNOMED CT, LOINC, ICD, CVX, UCUM...) need a
terminology server and are not checked; neither are ``example``, ``fragment`` or
``supplement`` code systems.  Case is ignored (the compact R4 data does not keep
``caseSensitive``), so a code is never refused for its case alone.  A display that is neither
the concept's display nor one of its designations is a warning: clients write displays in
their own language (a Chinese display of a v3 code is right for this server's users).
"""

from __future__ import annotations

from functools import cache

from fhir_server.terminology.codesystem import CodeSystemIndex
from fhir_server.terminology.service import Terminology


@cache
def _terminology() -> Terminology:
    return Terminology()


@cache
def _lowered(url: str) -> frozenset[str] | None:
    index: CodeSystemIndex | None = _terminology().code_system(url)
    if index is None or index.content != "complete" or not index.concepts:
        return None
    return frozenset(code.lower() for code in index.concepts)


def unknown_code(coding: dict) -> str | None:
    """A message when ``coding`` names a code its (held, complete) code system does not define."""
    system, code = coding.get("system"), coding.get("code")
    if not isinstance(system, str) or not isinstance(code, str) or "|" in system:
        return None
    codes = _lowered(system)
    if codes is None or code.lower() in codes:
        return None
    return f"Unknown code '{code}' in the code system {system}"
