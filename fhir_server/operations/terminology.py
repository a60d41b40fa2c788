"""Terminology operations (R4 terminology-service): ``ValueSet/$expand``, ``CodeSystem/$lookup``,
``ValueSet/$validate-code``, ``CodeSystem/$validate-code`` and ``ConceptMap/$translate``, over the
IG's resources, the official R4 ones and what users POST (SPEC §2.3, issue 5 point 5)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fhir_server.core.errors import BadRequest, Issue
from fhir_server.core.numbers import MAX_INT, bounded_int
from fhir_server.interactions.common import current_or_raise
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.interactions.terminology import store_terminology
from fhir_server.operations.parameters import OperationInput
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import UnitOfWork
from fhir_server.terminology.codesystem import Concept
from fhir_server.terminology.service import Terminology
from fhir_server.validation import validate_resource

OFFICIAL = "http://hl7.org/fhir/OperationDefinition/"
MAX_COUNT = 10_000


def _parameters(*params: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": [p for p in params if p]}


def _int(params: OperationInput, name: str, default: int) -> int:
    raw = params.value(name)
    if raw is None:
        return default
    value = raw if isinstance(raw, int) and not isinstance(raw, bool) else bounded_int(str(raw))
    if value is None or value < 0 or value > MAX_INT:
        raise BadRequest(f"Parameter '{name}' must be a non-negative whole number", expression=[name])
    return value


def _target(uow: UnitOfWork, params: OperationInput, res_type: str, res_id: str | None, url_param: str,
            inline: str, terminology: Terminology) -> dict:
    """The ValueSet / CodeSystem / ConceptMap the operation works on: instance, inline resource or url."""
    if res_id is not None:
        return current_or_raise(uow, res_type, res_id).content or {}
    resource = params.resource(inline)
    if resource is not None:
        return _checked(resource, res_type, inline)
    url = params.value(url_param)
    if url is None:
        raise BadRequest(f"Give the {res_type} by '{url_param}', '{inline}' or an instance URL", code="required",
                         expression=[url_param])
    if res_type == "ValueSet":
        return terminology.value_set(str(url))
    found = terminology.resource(res_type, str(url))
    if found is None:
        from fhir_server.core.errors import NotFound

        raise NotFound(f"{res_type} {url} is not known to this server", expression=[url_param])
    return found


def _checked(resource: dict, res_type: str, name: str) -> dict:
    """An inline resource parameter is validated like a posted one before it is used."""
    errors = [i for i in validate_resource(resource, res_type) if i.severity in ("error", "fatal")]
    if errors:
        raise BadRequest([Issue(i.code, f"Parameter '{name}': {i.diagnostics}", "error",
                                tuple(f"{name}.{e}" for e in i.expression)) for i in errors])
    return resource


def _matches_filter(concept: Concept, text: str) -> bool:
    text = text.lower()
    names = [concept.code, concept.display or "", *(v for _, v in concept.designations)]
    return any(text in n.lower() for n in names)


def expand(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    terminology = store_terminology(uow)
    value_set = _target(uow, params, "ValueSet", res_id, "url", "valueSet", terminology)
    count, offset = _int(params, "count", MAX_COUNT), _int(params, "offset", 0)
    language = params.value("displayLanguage")
    designations = str(params.value("includeDesignations", "false")).lower() == "true"
    concepts = terminology.expand(value_set)
    text = params.value("filter")
    if text:
        concepts = [c for c in concepts if _matches_filter(c, str(text))]
    page = concepts[offset:offset + min(count, MAX_COUNT)]
    contains = []
    for c in page:
        item: dict = {"system": c.system, "code": c.code}
        display = c.display_in(str(language) if language else None)
        if display:
            item["display"] = display
        if designations and c.designations:
            item["designation"] = [{"language": lang, "value": v} for lang, v in c.designations if lang]
        contains.append(item)
    used: list[dict] = [{"name": n, "valueString": str(params.value(n))} for n in ("filter", "displayLanguage")
            if params.value(n) is not None]
    used += [{"name": n, "valueInteger": v} for n, v in (("count", count), ("offset", offset))
             if params.value(n) is not None]
    result = {k: v for k, v in value_set.items() if k not in ("text", "compose", "expansion", "meta")}
    result["resourceType"] = "ValueSet"
    result["expansion"] = {"identifier": f"urn:uuid:{uuid.uuid4()}",
                           "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "total": len(concepts), "offset": offset, **({"parameter": used} if used else {}),
                           **({"contains": contains} if contains else {})}
    return FhirResponse(200, result)


def _coding_input(params: OperationInput) -> tuple[str | None, str | None, str | None]:
    """(system, code, display) from code/system/display, coding or codeableConcept."""
    coding = params.value("coding")
    if isinstance(coding, dict):
        return coding.get("system"), coding.get("code"), coding.get("display")
    concept = params.value("codeableConcept")
    if isinstance(concept, dict) and concept.get("coding"):
        first = concept["coding"][0] if isinstance(concept["coding"][0], dict) else {}
        return first.get("system"), first.get("code"), first.get("display")
    code, system, display = params.value("code"), params.value("system"), params.value("display")
    return (str(system) if system is not None else None, str(code) if code is not None else None,
            str(display) if display is not None else None)


def lookup(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    terminology = store_terminology(uow)
    system, code, _ = _coding_input(params)
    if res_id is not None:
        system = (current_or_raise(uow, "CodeSystem", res_id).content or {}).get("url")
    if not code or not system:
        raise BadRequest("$lookup needs 'code' and 'system' (or 'coding')", code="required",
                         expression=["code" if not code else "system"])
    found = terminology.lookup(system, code)
    if found is None:
        from fhir_server.core.errors import NotFound

        known = terminology.code_system(system) is not None
        raise NotFound(f"Code '{code}' is not in {system}" if known else f"Code system {system} is not known",
                       expression=["code" if known else "system"])
    index, concept = found
    language = params.value("displayLanguage")
    out: list[dict] = [{"name": "name", "valueString": index.name or index.url}]
    if index.version:
        out.append({"name": "version", "valueString": index.version})
    out.append({"name": "display", "valueString": concept.display_in(str(language) if language else None) or code})
    for lang, text in concept.designations:
        out.append({"name": "designation", "part": [
            *([{"name": "language", "valueCode": lang}] if lang else []), {"name": "value", "valueString": text}]})
    for parent in index.parents.get(code, []):
        out.append({"name": "property", "part": [{"name": "code", "valueCode": "parent"},
                                                 {"name": "value", "valueCode": parent}]})
    for child in index.children.get(code, []):
        out.append({"name": "property", "part": [{"name": "code", "valueCode": "child"},
                                                 {"name": "value", "valueCode": child}]})
    for prop in index.properties.get(code, []):
        found_value = next(({k: v} for k, v in prop.items() if k.startswith("value")), None)
        if found_value and prop.get("code") not in ("parent", "child"):
            out.append({"name": "property", "part": [{"name": "code", "valueCode": prop["code"]},
                                                     {"name": "value", **found_value}]})
    return FhirResponse(200, _parameters(*out))


def _validation_result(ok: bool, message: str | None, display: str | None) -> FhirResponse:
    return FhirResponse(200, _parameters({"name": "result", "valueBoolean": ok},
                                         {"name": "message", "valueString": message} if message else {},
                                         {"name": "display", "valueString": display} if display else {}))


def _display_problem(concept: Concept, display: str | None) -> str | None:
    if display is None:
        return None
    names = {concept.display, *(v for _, v in concept.designations)}
    if display in names:
        return None
    return f"The display '{display}' is not a display of {concept.system}#{concept.code} ('{concept.display}')"


def validate_code_value_set(uow: UnitOfWork, request: FhirRequest, res_type: str | None,
                            res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    terminology = store_terminology(uow)
    value_set = _target(uow, params, "ValueSet", res_id, "url", "valueSet", terminology)
    system, code, display = _coding_input(params)
    if not code:
        raise BadRequest("$validate-code needs 'code' (with 'system'), 'coding' or 'codeableConcept'",
                         code="required", expression=["code"])
    concept = terminology.in_value_set(value_set, system, code)
    where = value_set.get("url") or f"ValueSet/{value_set.get('id')}"
    if concept is None:
        shown = f"{system}#{code}" if system else code
        return _validation_result(False, f"The code {shown} is not in the value set {where}", None)
    problem = _display_problem(concept, display)
    return _validation_result(problem is None, problem, concept.display)


def validate_code_code_system(uow: UnitOfWork, request: FhirRequest, res_type: str | None,
                              res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    terminology = store_terminology(uow)
    system, code, display = _coding_input(params)
    if res_id is not None:
        system = (current_or_raise(uow, "CodeSystem", res_id).content or {}).get("url")
    system = system or (str(params.value("url")) if params.value("url") is not None else None)
    if not code or not system:
        raise BadRequest("$validate-code needs 'code' and 'url' (or 'coding')", code="required",
                         expression=["code" if not code else "url"])
    if terminology.code_system(system) is None:
        from fhir_server.core.errors import NotFound

        raise NotFound(f"Code system {system} is not known to this server", expression=["url"])
    found = terminology.lookup(system, code)
    if found is None:
        return _validation_result(False, f"The code '{code}' is not in {system}", None)
    problem = _display_problem(found[1], display)
    return _validation_result(problem is None, problem, found[1].display)


def translate(uow: UnitOfWork, request: FhirRequest, res_type: str | None, res_id: str | None) -> FhirResponse:
    params = OperationInput(request)
    terminology = store_terminology(uow)
    system, code, _ = _coding_input(params)
    if not code or not system:
        raise BadRequest("$translate needs 'code' and 'system' (or 'coding')", code="required",
                         expression=["code" if not code else "system"])
    if res_id is not None:
        maps = [current_or_raise(uow, "ConceptMap", res_id).content or {}]
    elif params.resource("conceptMap") is not None:
        maps = [_checked(params.resource("conceptMap") or {}, "ConceptMap", "conceptMap")]
    else:
        url = params.value("url")
        maps = terminology.concept_maps(str(url) if url else None, system)
    target = params.value("targetsystem") or params.value("target")
    reverse = str(params.value("reverse", "false")).lower() == "true"
    matches = terminology.translate(maps, system, code, str(target) if target else None, reverse)
    found = [m for m in matches if m.equivalence not in ("unmatched", "disjoint")]
    out: list[dict] = [{"name": "result", "valueBoolean": bool(found)}]
    if not found:
        out.append({"name": "message", "valueString": f"No mapping for {system}#{code}"})
    for m in matches:
        coding = {k: v for k, v in (("system", m.system), ("code", m.code), ("display", m.display)) if v}
        parts: list[dict] = [{"name": "equivalence", "valueCode": m.equivalence}]
        if m.code:
            parts.append({"name": "concept", "valueCoding": coding})
        if m.source:
            parts.append({"name": "source", "valueUri": m.source})
        out.append({"name": "match", "part": parts})
    return FhirResponse(200, _parameters(*out))


OPERATIONS = [
    Operation("expand", expand, OFFICIAL + "ValueSet-expand", type_level=True, instance=True,
              resource_types=("ValueSet",)),
    Operation("lookup", lookup, OFFICIAL + "CodeSystem-lookup", type_level=True, instance=True,
              resource_types=("CodeSystem",)),
    Operation("validate-code", validate_code_value_set, OFFICIAL + "ValueSet-validate-code", type_level=True,
              instance=True, resource_types=("ValueSet",)),
    Operation("validate-code", validate_code_code_system, OFFICIAL + "CodeSystem-validate-code", type_level=True,
              instance=True, resource_types=("CodeSystem",)),
    Operation("translate", translate, OFFICIAL + "ConceptMap-translate", type_level=True, instance=True,
              resource_types=("ConceptMap",)),
]
