"""TestScript ``assert`` (R4 testscript-definitions: response, responseCode, resource,
validateProfileId, expression, headerField, contentType with value and operator)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhir_server.core import fhirpath

RESPONSE_CODES = {"okay": 200, "created": 201, "noContent": 204, "notModified": 304, "bad": 400,
                  "forbidden": 403, "notFound": 404, "methodNotAllowed": 405, "conflict": 409, "gone": 410,
                  "preconditionFailed": 412, "unprocessable": 422}


@dataclass
class Observed:
    """A response as asserts see it."""

    status: int | None
    headers: dict[str, str]
    body: object  # parsed JSON, or None
    method: str | None = None  # of the request (client suites: direction request)
    url: str | None = None  # the request's path below the FHIR base and its query, decoded


class AssertionFailed(Exception):
    pass


def _compare(actual: str | None, operator: str, expected: str | None) -> bool:
    expected = expected or ""
    if operator == "empty":
        return not actual
    if operator == "notEmpty":
        return bool(actual)
    if actual is None:
        return operator in ("notEquals", "notIn", "notContains")
    options = [v.strip() for v in expected.split(",")]
    checks: dict[str, Callable[[], bool]] = {
        "equals": lambda: actual == expected, "notEquals": lambda: actual != expected,
        "in": lambda: actual in options, "notIn": lambda: actual not in options,
        "contains": lambda: expected in actual, "notContains": lambda: expected not in actual,
        "greaterThan": lambda: _number(actual) > _number(expected),
        "lessThan": lambda: _number(actual) < _number(expected),
    }
    if operator not in checks:
        raise AssertionFailed(f"operator '{operator}' is not supported by the kit")
    return checks[operator]()


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as error:
        raise AssertionFailed(f"'{text}' is not a number") from error


def _shown(values: list) -> str:
    text = ", ".join(str(v) for v in values[:5])
    return f"[{text}{', …' if len(values) > 5 else ''}]"


def check(definition: dict, observed: Observed, substitute: Callable[[str], str],
          validate: Callable[[object, str], list[str]], profiles: dict[str, str]) -> str:
    """Raises :class:`AssertionFailed` with what was found; returns a short note when it holds."""
    operator = definition.get("operator", "equals")
    value = substitute(definition["value"]) if "value" in definition else None
    if "requestMethod" in definition:
        if (observed.method or "").lower() != definition["requestMethod"].lower():
            raise AssertionFailed(f"expected a {definition['requestMethod'].upper()} request, got {observed.method}")
        return observed.method or ""
    if "requestURL" in definition:
        expected = substitute(definition["requestURL"])
        if not _compare(observed.url, operator, expected):
            raise AssertionFailed(f"request URL {observed.url!r}, expected {operator} {expected!r}")
        return observed.url or ""
    if "response" in definition:
        wanted = RESPONSE_CODES[definition["response"]]
        if observed.status != wanted:
            raise AssertionFailed(f"expected HTTP {wanted} ({definition['response']}), got {observed.status}")
        return f"HTTP {observed.status}"
    if "responseCode" in definition:
        expected = substitute(definition["responseCode"])
        if not _compare(str(observed.status), operator if "," not in expected else "in", expected):
            raise AssertionFailed(f"expected HTTP status {operator} {expected}, got {observed.status}")
        return f"HTTP {observed.status}"
    body = observed.body if isinstance(observed.body, dict) else None
    if "resource" in definition:
        found = body.get("resourceType") if body else None
        if found != definition["resource"]:
            raise AssertionFailed(f"expected a {definition['resource']}, got {found or 'no FHIR resource'}")
        return found
    if "validateProfileId" in definition:
        url = profiles.get(definition["validateProfileId"], definition["validateProfileId"])
        if body is None:
            raise AssertionFailed(f"no resource to validate against {url}")
        errors = validate(body, url)
        if errors:
            raise AssertionFailed(f"not valid against {url}: " + "; ".join(errors[:8])
                                  + (f" (+{len(errors) - 8} more)" if len(errors) > 8 else ""))
        return f"valid against {url}"
    if "expression" in definition:
        expression = substitute(definition["expression"])
        if body is None:
            raise AssertionFailed(f"no resource to evaluate {expression} on")
        try:
            result = fhirpath.evaluate(body, expression)
        except Exception as error:  # noqa: BLE001 - fhirpathpy raises many kinds; the report names it
            raise AssertionFailed(f"{expression}: cannot be evaluated ({error})") from error
        if value is None and operator == "equals":
            if result == [True] or (result and all(r is not False for r in result)):
                return f"{expression} holds"
            raise AssertionFailed(f"{expression} is {_shown(result)}")
        actual = str(result[0]) if result else None
        if not _compare(actual, operator, value):
            raise AssertionFailed(f"{expression} = {_shown(result)}, expected {operator} {value}")
        return f"{expression} = {actual}"
    if "headerField" in definition:
        name = definition["headerField"].lower()
        actual = next((v for k, v in observed.headers.items() if k.lower() == name), None)
        if not _compare(actual, operator if value is not None or operator != "equals" else "notEmpty", value):
            raise AssertionFailed(f"header {definition['headerField']} is {actual!r}, expected {operator} {value}")
        return f"{definition['headerField']}: {actual}"
    if "contentType" in definition:
        actual = next((v for k, v in observed.headers.items() if k.lower() == "content-type"), "")
        if definition["contentType"] not in actual:
            raise AssertionFailed(f"Content-Type is {actual!r}, expected {definition['contentType']}")
        return actual
    raise AssertionFailed("the assert names no check the kit knows")
