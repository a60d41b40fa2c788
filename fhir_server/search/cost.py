"""A guard against searches that would cost too much (answered with ``too-costly``).

The cost is a rough count of the subqueries a search needs: one per test and OR value, more
for each chain or ``_has`` level, and per include.  Limits are configurable per server.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fhir_server.core.errors import TooCostly
from fhir_server.search.request import AnyTest, ChainTest, HasTest, SearchRequest, Test, ValueTest


@dataclass(frozen=True, slots=True)
class Limits:
    max_count: int = 1000
    max_or_values: int = 100
    max_chain_depth: int = 4
    max_includes: int = 10
    max_include_depth: int = 3
    max_cost: int = 300
    stored_results: int = 10_000  # ids kept for stable paging
    max_included: int = 1000  # _include/_revinclude resources per page; past it a warning (JIAYI_MAX_INCLUDED)


_configured = Limits()


def configure(**changes: int) -> Limits:
    """The server's limits (the app sets them from its settings once at start)."""
    global _configured
    _configured = replace(Limits(), **changes)
    return _configured


def configured() -> Limits:
    return _configured


def check_cost(request: SearchRequest, limits: Limits) -> SearchRequest:
    cost = sum(_test_cost(t, 0, limits) for t in request.where) + 5 * len(request.includes) + len(request.sort)
    if len(request.includes) > limits.max_includes:
        raise TooCostly(f"Too many _include/_revinclude parameters (at most {limits.max_includes})",
                        expression=("_include",))
    if cost > limits.max_cost:
        raise TooCostly(f"This search is too costly (cost {cost}, limit {limits.max_cost}); "
                        "use fewer values, chains or includes")
    return replace(request, cost=cost)


def _test_cost(test: Test, depth: int, limits: Limits) -> int:
    if depth > limits.max_chain_depth:
        raise TooCostly(f"Chains and _has may nest at most {limits.max_chain_depth} levels")
    if isinstance(test, ValueTest):
        return 1 + len(test.values)
    if isinstance(test, (ChainTest, HasTest)):
        return 10 + _test_cost(test.test, depth + 1, limits)
    if isinstance(test, AnyTest):
        return sum(_test_cost(t, depth, limits) for t in test.tests)
    return 1
