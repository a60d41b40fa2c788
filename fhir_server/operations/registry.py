"""Operations declared as data (STYLE habit 6): each is a plain function registered with the
levels and resource types it applies to; the router and the CapabilityStatement both read
this registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhir_server.core.errors import MethodNotAllowed, NotFound
from fhir_server.interactions.common import require_type
from fhir_server.interactions.context import FhirRequest, FhirResponse
from fhir_server.repository.base import UnitOfWork

Handler = Callable[[UnitOfWork, FhirRequest, str | None, str | None], FhirResponse]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # without the $
    handler: Handler
    definition: str  # canonical URL of the OperationDefinition
    system: bool = False
    type_level: bool = False
    instance: bool = False
    resource_types: tuple[str, ...] | None = None  # None: every resource type
    affects_state: bool = False
    get_allowed: bool = True  # GET is allowed only for operations that change nothing
    writes_on_post: bool = False  # read-only by GET, may store when POSTed (e.g. $apply with persist)

    def applies_to(self, res_type: str | None, res_id: str | None) -> bool:
        if res_type is None:
            return self.system
        if self.resource_types is not None and res_type not in self.resource_types:
            return False
        return self.instance if res_id else self.type_level


class OperationRegistry:
    def __init__(self) -> None:
        self._operations: dict[str, list[Operation]] = {}

    def register(self, operation: Operation) -> None:
        self._operations.setdefault(operation.name, []).append(operation)

    def all(self) -> list[Operation]:
        return [op for ops in self._operations.values() for op in ops]

    def find(self, name: str, res_type: str | None, res_id: str | None) -> Operation:
        candidates = self._operations.get(name)
        if not candidates:
            raise NotFound(f"Unknown operation ${name}", code="not-supported")
        for op in candidates:
            if op.applies_to(res_type, res_id):
                return op
        where = f"{res_type}/{res_id}" if res_id else res_type or "the system level"
        raise NotFound(f"${name} is not defined at {where}", code="not-supported")

    def is_read_only(self, name: str, method: str = "GET") -> bool:
        return not any(op.affects_state or (method == "POST" and op.writes_on_post)
                       for op in self._operations.get(name, []))

    def invoke(self, uow: UnitOfWork, request: FhirRequest, name: str, res_type: str | None,
               res_id: str | None) -> FhirResponse:
        if res_type is not None:
            require_type(res_type)
        op = self.find(name, res_type, res_id)
        if request.method == "GET" and (op.affects_state or not op.get_allowed):
            raise MethodNotAllowed(f"${name} changes data and must be invoked with POST")
        if request.method not in ("GET", "POST"):
            raise MethodNotAllowed(f"Operations are invoked with GET or POST, not {request.method}")
        return op.handler(uow, request, res_type, res_id)
