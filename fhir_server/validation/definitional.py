"""Conformance resources whose parts contradict their definitions (FHIR R4 capabilitystatement.html,
searchparameter.html):

- a ``CapabilityStatement.rest.resource.searchParam`` whose ``type`` is not the type of the
  SearchParameter its ``definition`` names;
- a ``SearchParameter`` whose ``type`` differs from the one it is ``derivedFrom``, or whose
  ``base`` lists a resource type the parent does not cover;
- a composite ``SearchParameter`` with fewer than two components (a composite combines values);
- a ``ValueSet.compose`` include/exclude ``system`` that is not an absolute URI (R4: "an absolute
  URI which is the code system"; a contained CodeSystem is named by its own absolute url), and a
  filter on a boolean concept property (``notSelectable``, ``inactive``) whose value is not
  ``true``/``false``; a filter value given as an expression (the ``cqf-expression`` extension
  on ``filter.value``) must be FHIRPath (``text/fhirpath``), parse, and name only the
  parameters the ValueSet declares (``valueset-parameter``; tools.html, R5 valueset parameters);
- a ``CodeSystem`` that says its content is ``not-present`` but lists concepts, that
  ``supplements`` another without ``content`` = ``supplement`` (codesystem.html#supplements),
  that declares a property code or uri twice (a warning: the official R4 SNOMED CT CodeSystem
  does), that gives a standard concept property
  (``http://hl7.org/fhir/concept-properties#...``) another type than its own, or whose concepts
  give a declared property a value of another type;
- a ``Questionnaire`` item whose ``enableWhen`` names a question inside the item itself;
- a ``StructureDefinition`` whose differential names elements its type does not have, or
  profiles a type with another type's definition (:mod:`.differential`).

The known SearchParameters are R4's (``definitions/data/search-parameters.json``) and the Jiayi
IG's; a definition this server does not know is not judged.
"""

from __future__ import annotations

import json
import re
from functools import cache

from fhir_server.core.errors import Issue
from fhir_server.core.fhirpath import FhirPathError, compiled
from fhir_server.definitions import ig
from fhir_server.definitions.structures import DATA as DEFINITIONS
from fhir_server.validation.differential import differential_issues

SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


@cache
def known_search_parameters() -> dict[str, dict]:
    """canonical url -> {"type": ..., "base": [...]}, R4's and the IG's."""
    data = json.loads((DEFINITIONS / "search-parameters.json").read_text(encoding="utf-8"))["parameters"]
    found = {p["url"]: {"type": p.get("type"), "base": p.get("base") or []} for p in data if p.get("url")}
    for resource in ig.resources():
        if resource.get("resourceType") == "SearchParameter" and resource.get("url"):
            found[resource["url"]] = {"type": resource.get("type"), "base": resource.get("base") or []}
    return found


def definitional_issues(resource: dict, where: str) -> list[Issue]:
    res_type = resource.get("resourceType")
    if res_type == "CapabilityStatement":
        return _capability_statement(resource, where)
    if res_type == "SearchParameter":
        return _search_parameter(resource, where)
    if res_type == "ValueSet":
        return _value_set(resource, where)
    if res_type == "CodeSystem":
        return _code_system(resource, where)
    if res_type == "Questionnaire":
        return _questionnaire_items(resource.get("item"), where)
    if res_type == "StructureDefinition":
        return differential_issues(resource, where)
    return []


def _link_ids(items: object) -> set[str]:
    out: set[str] = set()
    for item in _dicts(items):
        if isinstance(item.get("linkId"), str):
            out.add(item["linkId"])
        out |= _link_ids(item.get("item"))
    return out


def _questionnaire_items(items: object, where: str) -> list[Issue]:
    """An item's enableWhen cannot depend on a question inside the item itself (it would be
    answered only once the item is enabled)."""
    issues = []
    for i, item in enumerate(_dicts(items)):
        at = f"{where}.item[{i}]"
        inner = _link_ids(item.get("item")) if item.get("enableWhen") else set()
        for e, when in enumerate(_dicts(item.get("enableWhen"))):
            if when.get("question") in inner:
                issues.append(Issue("invalid", f"Item {item.get('linkId')} is enabled by question "
                                    f"{when['question']}, which is inside the item itself",
                                    expression=(f"{at}.enableWhen[{e}].question",)))
        issues += _questionnaire_items(item.get("item"), at)
    return issues


CONCEPT_PROPERTIES = "http://hl7.org/fhir/concept-properties#"
# the types of the standard concept properties (R4 concept-properties, and those R5 added)
STANDARD_PROPERTY_TYPES = {"inactive": "boolean", "deprecated": "dateTime", "notSelectable": "boolean",
                           "parent": "code", "child": "code", "status": "code", "deprecationDate": "dateTime",
                           "retirementDate": "dateTime"}
BOOLEAN_FILTER_PROPERTIES = frozenset({"notSelectable", "inactive"})


def _code_system(resource: dict, where: str) -> list[Issue]:
    issues = []
    content = resource.get("content")
    if content == "not-present" and resource.get("concept"):
        issues.append(Issue("invalid", "The CodeSystem says its content is not-present, but it lists concepts",
                            expression=(f"{where}.concept",)))
    if resource.get("supplements") and isinstance(content, str) and content != "supplement":
        issues.append(Issue("invalid", f"A CodeSystem that supplements {resource['supplements']} must have content "
                            f"'supplement', not '{content}'", expression=(f"{where}.content",)))
    declared: dict[str, str] = {}
    uris: set[str] = set()
    for i, prop in enumerate(_dicts(resource.get("property"))):
        code, uri, kind = prop.get("code"), prop.get("uri"), prop.get("type")
        at = f"{where}.property[{i}]"
        if isinstance(code, str):
            if code in declared:
                issues.append(Issue("invalid", f"The property code '{code}' is declared twice", severity="warning",
                                    expression=(at,)))
            elif isinstance(kind, str):
                declared[code] = kind
        if isinstance(uri, str):
            if uri in uris:
                issues.append(Issue("invalid", f"The property uri {uri} is declared twice", severity="warning",
                                    expression=(at,)))
            uris.add(uri)
            standard = STANDARD_PROPERTY_TYPES.get(uri[len(CONCEPT_PROPERTIES):]) \
                if uri.startswith(CONCEPT_PROPERTIES) else None
            if standard and isinstance(kind, str) and kind != standard:
                issues.append(Issue("invalid", f"The property {uri} has type {standard}, not {kind}",
                                    expression=(f"{at}.type",)))
    issues += _concept_properties(resource.get("concept"), declared, f"{where}.concept")
    return issues


def _concept_properties(concepts: object, declared: dict[str, str], where: str) -> list[Issue]:
    issues = []
    for c, concept in enumerate(_dicts(concepts)):
        for p, prop in enumerate(_dicts(concept.get("property"))):
            kind = declared.get(prop.get("code"))  # type: ignore[arg-type]
            given = [k[len("value"):] for k in prop if k.startswith("value")]
            if kind and given and given[0].lower() != kind.lower():
                issues.append(Issue("invalid", f"The property '{prop['code']}' is declared with type {kind}, but "
                                    f"this concept gives a {given[0]}",
                                    expression=(f"{where}[{c}].property[{p}]",)))
        issues += _concept_properties(concept.get("concept"), declared, f"{where}[{c}].concept")
    return issues


CQF_EXPRESSION = "http://hl7.org/fhir/StructureDefinition/cqf-expression"
VALUESET_PARAMETER = "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter"
_PARAMETER = re.compile(r"%([A-Za-z][A-Za-z0-9_\-]*)")
_ENVIRONMENT = frozenset({"resource", "rootResource", "context", "ucum", "sct", "loinc", "this"})


def _parameters(resource: dict) -> set[str]:
    names = set()
    for ext in _dicts(resource.get("extension")):
        if ext.get("url") == VALUESET_PARAMETER:
            names |= {e.get("valueCode") for e in _dicts(ext.get("extension")) if e.get("url") == "name"}
    return {n for n in names if isinstance(n, str)}


def _filter_expression(flt: dict, declared: set[str], where: str) -> list[Issue]:
    side = flt.get("_value")
    extensions = side.get("extension") if isinstance(side, dict) else None
    issues = []
    for ext in _dicts(extensions):
        expression = ext.get("valueExpression") if ext.get("url") == CQF_EXPRESSION else None
        if not isinstance(expression, dict) or not isinstance(expression.get("expression"), str):
            continue
        language, text = expression.get("language"), expression["expression"]
        if language != "text/fhirpath":
            issues.append(Issue("invalid", f"A filter value expression must be text/fhirpath, not {language}",
                                expression=(where,)))
            continue
        names = _PARAMETER.findall(text)
        unknown = [n for n in names if n not in declared and n not in _ENVIRONMENT]
        if declared and unknown:
            issues.append(Issue("invalid", f"The filter value expression '{text}' names the undeclared parameter "
                                f"'{unknown[0]}' (declared: {', '.join(sorted(declared))})", expression=(where,)))
        try:
            compiled(_PARAMETER.sub("true", text))
        except FhirPathError as exc:
            issues.append(Issue("invalid", f"The filter value expression '{text}' is not valid FHIRPath: {exc}",
                                expression=(where,)))
    return issues


def _value_set(resource: dict, where: str) -> list[Issue]:
    compose = resource["compose"] if isinstance(resource.get("compose"), dict) else {}
    declared = _parameters(resource)
    issues = []
    for part in ("include", "exclude"):
        for i, item in enumerate(_dicts(compose.get(part))):
            system = item.get("system")
            if isinstance(system, str) and not SCHEME.match(system):
                issues.append(Issue("invalid", f"ValueSet.compose.{part}.system '{system}' must be an absolute URI "
                                    "(a contained CodeSystem is named by its own absolute url)",
                                    expression=(f"{where}.compose.{part}[{i}].system",)))
            for f, flt in enumerate(_dicts(item.get("filter"))):
                if flt.get("property") in BOOLEAN_FILTER_PROPERTIES and flt.get("op") == "=" \
                        and isinstance(flt.get("value"), str) and flt["value"] not in ("true", "false"):
                    issues.append(Issue("invalid", f"A filter on the property {flt['property']} takes true or "
                                        f"false, not '{flt.get('value')}'",
                                        expression=(f"{where}.compose.{part}[{i}].filter[{f}].value",)))
                issues += _filter_expression(flt, declared, f"{where}.compose.{part}[{i}].filter[{f}]._value")
    return issues


def _known(url: object) -> dict | None:
    return known_search_parameters().get(url.split("|", 1)[0]) if isinstance(url, str) else None


def _capability_statement(resource: dict, where: str) -> list[Issue]:
    issues = []
    for r, rest in enumerate(_dicts(resource.get("rest"))):
        for t, entry in enumerate(_dicts(rest.get("resource"))):
            for s, param in enumerate(_dicts(entry.get("searchParam"))):
                known = _known(param.get("definition"))
                stated = param.get("type")
                if known and isinstance(stated, str) and known["type"] and stated != known["type"]:
                    issues.append(Issue("invalid", f"searchParam '{param.get('name')}' has type {stated}, but its "
                                        f"definition {param['definition']} is of type {known['type']}",
                                        expression=(f"{where}.rest[{r}].resource[{t}].searchParam[{s}].type",)))
    return issues


def _search_parameter(resource: dict, where: str) -> list[Issue]:
    issues = []
    if resource.get("type") == "composite" and len(_dicts(resource.get("component"))) < 2:
        issues.append(Issue("invalid", "A composite SearchParameter combines two or more components",
                            expression=(f"{where}.component",)))
    parent = _known(resource.get("derivedFrom"))
    if parent is None:
        return issues
    if isinstance(resource.get("type"), str) and parent["type"] and resource["type"] != parent["type"]:
        issues.append(Issue("invalid", f"The type {resource['type']} differs from the type {parent['type']} of "
                            f"{resource['derivedFrom']}, which this SearchParameter is derived from",
                            expression=(f"{where}.type",)))
    covered = set(parent["base"])
    for i, base in enumerate(resource.get("base") or []):
        if isinstance(base, str) and covered and base not in covered and not covered & {"Resource", "DomainResource"}:
            issues.append(Issue("invalid", f"{base} is not a base of {resource['derivedFrom']} (its bases: "
                                f"{', '.join(sorted(covered))}), which this SearchParameter is derived from",
                                expression=(f"{where}.base[{i}]",)))
    return issues


def _dicts(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
