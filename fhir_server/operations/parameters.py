"""Operation input: a Parameters body (POST) or query parameters (GET), one accessor for both."""

from __future__ import annotations

from fhir_server.core.errors import BadRequest
from fhir_server.interactions.context import FhirRequest


class OperationInput:
    def __init__(self, request: FhirRequest) -> None:
        self._parameters: list[dict] = []
        body = request.body
        self.body_resource: dict | None = None
        if isinstance(body, dict) and body.get("resourceType") == "Parameters":
            self._parameters = [p for p in body.get("parameter", []) if isinstance(p, dict)]
        elif isinstance(body, dict):
            self.body_resource = body
        for name, value in request.query:
            if not name.startswith("_"):
                self._parameters.append({"name": name, "valueString": value})

    def all(self, name: str) -> list[dict]:
        return [p for p in self._parameters if p.get("name") == name]

    def value(self, name: str, default: object = None) -> object:
        for p in self.all(name):
            for key, value in p.items():
                if key.startswith("value"):
                    return value
        return default

    def resource(self, name: str) -> dict | None:
        for p in self.all(name):
            if isinstance(p.get("resource"), dict):
                return p["resource"]
        return None

    def require(self, name: str) -> object:
        value = self.value(name)
        if value is None:
            raise BadRequest(f"Parameter '{name}' is required", code="required", expression=[name])
        return value
