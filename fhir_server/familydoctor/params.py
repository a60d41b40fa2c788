"""Typed operation parameters for the domain operations (Appendix A): a Parameters body or,
for read-only operations, the query string; bad values are 400 with the parameter named."""

from __future__ import annotations

import datetime as dt
import re

from fhir_server.core import elements as el
from fhir_server.core.errors import BadRequest
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.operations.parameters import OperationInput

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


class Params:
    def __init__(self, request: FhirRequest) -> None:
        self._input = OperationInput(request)

    def _raw(self, name: str, required: bool) -> object:
        value = self._input.value(name)
        if value is None and required:
            raise BadRequest(f"Parameter '{name}' is required", code="required", expression=[name])
        return value

    def string(self, name: str, required: bool = False) -> str | None:
        value = self._raw(name, required)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BadRequest(f"Parameter '{name}' must be a non-empty string", code="value", expression=[name])
        return value.strip() if isinstance(value, str) else None

    def strings(self, name: str) -> list[str]:
        values = []
        for p in self._input.all(name):
            value = next((v for k, v in p.items() if k.startswith("value")), None)
            if not isinstance(value, str) or not value.strip():
                raise BadRequest(f"Parameter '{name}' must be a non-empty code or string", code="value",
                                 expression=[name])
            values.append(value.strip())
        return values

    def date(self, name: str, required: bool = False) -> dt.date | None:
        value = self._raw(name, required)
        if value is None:
            return None
        day = el.day_of(value) if isinstance(value, str) and len(value) == 10 else None
        if day is None:
            raise BadRequest(f"Parameter '{name}' must be a date (YYYY-MM-DD), not {value!r}", code="value",
                             expression=[name])
        return day

    def datetime(self, name: str, required: bool = False) -> dt.datetime | None:
        value = self._raw(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not _DATETIME.match(value):
            raise BadRequest(f"Parameter '{name}' must be a dateTime with a time zone "
                             f"(e.g. 2026-11-23T09:30:00+08:00), not {value!r}", code="value", expression=[name])
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"Parameter '{name}' is not a valid dateTime: {value!r}", code="value",
                             expression=[name]) from None

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int | None:
        value = self._raw(name, False)
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,6}", value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BadRequest(f"Parameter '{name}' must be an integer from {low} to {high}", code="value",
                             expression=[name])
        return value

    def decimal(self, name: str, low: float, high: float) -> float | None:
        value = self._raw(name, False)
        if value is None:
            return None
        try:
            number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise BadRequest(f"Parameter '{name}' must be a decimal from {low:g} to {high:g}", code="value",
                             expression=[name])
        return number

    def references(self, name: str, res_type: str) -> list[str]:
        out = []
        for p in self._input.all(name):
            value = p.get("valueReference")
            ref = el.local_ref(value) if isinstance(value, dict) else el.local_ref(p.get("valueString"))
            if ref is None or not ref.startswith(res_type + "/"):
                raise BadRequest(f"Parameter '{name}' must be a Reference to a {res_type}", code="value",
                                 expression=[name])
            out.append(ref)
        return out

    def reference(self, name: str, types: tuple[str, ...] | None = None) -> dict | None:
        for p in self._input.all(name):
            value = p.get("valueReference")
            if not isinstance(value, dict) or not (value.get("reference") or value.get("identifier")
                                                     or value.get("display")):
                raise BadRequest(f"Parameter '{name}' must be a Reference", code="value", expression=[name])
            ref = el.local_ref(value)
            if types and ref and ref.split("/")[0] not in types:
                raise BadRequest(f"Parameter '{name}' must refer to one of {', '.join(types)}", code="value",
                                 expression=[name])
            return value
        return None


def parameters(*parts: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": [p for p in parts if p]}


def ok(body: dict, status: int = 200) -> FhirResponse:
    return FhirResponse(status, body)
