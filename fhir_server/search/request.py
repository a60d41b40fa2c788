"""A parsed search (FHIR R4 §3.1.1): the frozen object both engines consume.

``where`` is a conjunction of tests; each test is one of the dataclasses below.  The SQL
builder (:mod:`fhir_server.search.sql`) and the in-memory matcher
(:mod:`fhir_server.search.memory`) walk the same tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from fhir_server.core.errors import Issue
from fhir_server.search.registry import SearchParam

DEFAULT_COUNT = 20
PAGE_PARAM = "_page"
MAX_OFFSET = 1_000_000_000  # _offset and page positions beyond it: 400 (no database pages that far)


@dataclass(frozen=True, slots=True)
class ValueTest:
    """``param[:modifier]=v1,v2``: any of the values (OR); ``negated`` for ``:not``."""

    param: SearchParam
    modifier: str | None
    values: tuple[Any, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class MissingTest:
    param: SearchParam
    missing: bool


@dataclass(frozen=True, slots=True)
class ChainTest:
    """``param[:Type].rest``: the reference points to a resource of ``target_types`` matching ``test``."""

    param: SearchParam
    target_types: tuple[str, ...]
    test: Test


@dataclass(frozen=True, slots=True)
class HasTest:
    """``_has:Source:param:rest``: some ``source_type`` resource refers here through ``param`` and matches."""

    source_type: str
    param: SearchParam
    test: Test


@dataclass(frozen=True, slots=True)
class AnyTest:
    """A disjunction (compartment membership through any of several reference parameters)."""

    tests: tuple[Test, ...]


Test = Union[ValueTest, MissingTest, ChainTest, HasTest, AnyTest]  # noqa: UP007 (runtime alias, py3.11)


@dataclass(frozen=True, slots=True)
class SortKey:
    param: SearchParam
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Include:
    """``_include=Source:param[:Target]`` (``reverse`` for ``_revinclude``); ``param`` None for ``*``."""

    source_type: str
    param: SearchParam | None
    target_type: str | None = None
    iterate: bool = False
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class SearchRequest:
    resource_type: str | None  # None: a system-level search over ``types``
    where: tuple[Test, ...] = ()
    types: tuple[str, ...] = ()
    sort: tuple[SortKey, ...] = ()
    includes: tuple[Include, ...] = ()
    count: int = DEFAULT_COUNT
    offset: int = 0
    page: str | None = None
    total: str = "accurate"  # none | estimate | accurate
    summary: str | None = None
    elements: tuple[str, ...] = ()
    contained: str | None = None
    contained_type: str | None = None
    warnings: tuple[Issue, ...] = ()
    cost: int = 0
    items: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # as received, for links
    reach: Any = None  # auth.access.Reach: whose records the principal may see (None: unlimited)
    # who asked and where (the principal, the search's path): page tokens are bound to it and the query
    scope: str = field(default="", compare=False)

    @property
    def count_only(self) -> bool:
        return self.summary == "count" or self.count == 0
