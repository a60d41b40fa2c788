"""What the query parser carries while it reads one query string, and the parameter lookup
that both :mod:`.parser` and :mod:`.result_params` use (so neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fhir_server.core.errors import Issue
from fhir_server.search.cost import Limits
from fhir_server.search.registry import ParamRegistry, SearchParam
from fhir_server.search.request import Test


class Unknown(Exception):
    """A parameter or modifier this server does not know (a warning under lenient handling)."""


@dataclass
class ParseState:
    resource_type: str | None
    registry: ParamRegistry  # the parameters in force for the caller's store (uow.search_params())
    strict: bool
    limits: Limits
    terminology: object = None  # for :in / :not-in / :above / :below (a terminology.Terminology)
    tests: list[Test] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    result: dict = field(default_factory=dict)


def lookup(state: ParseState, res_type: str | None, code: str) -> SearchParam:
    """The indexed parameter ``code`` of ``res_type``; :class:`Unknown` when there is none."""
    param = state.registry.get(res_type, code)
    if param is None:
        where = f" for {res_type}" if res_type else ""
        raise Unknown(f"Unknown search parameter '{code}'{where}")
    if not param.indexed:
        raise Unknown(f"Search parameter '{code}' is not supported")
    return param
