"""SearchRequest tests → SQL conditions on the resource table.

Every test becomes ``res_id IN (SELECT res_id FROM <index table> WHERE res_type = :t AND
param = :p AND <type condition>)`` (``NOT IN`` for ``:not`` and ``:missing=true``), so each
is answered from the (res_type, param, value) indexes.  Chains nest the target's condition
inside a reference subquery; ``_has`` turns it around.  ``_id`` and ``_lastUpdated`` use the
resource table's own columns.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Exists,
    String,
    and_,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from fhir_server.search import fulltext, pinyin
from fhir_server.search.params import KINDS, date
from fhir_server.search.request import AnyTest, ChainTest, HasTest, MissingTest, SortKey, Test, ValueTest
from fhir_server.search.sql.textmatch import TextMatch
from fhir_server.storage.index_tables import INDEX_TABLES, TEXT_TABLE
from fhir_server.storage.models import ResourceRow

R = ResourceRow.__table__


def probe() -> Exists:
    """``EXISTS (SELECT 1 ...)``: SQLite answers ``EXISTS (SELECT * ...)`` from the table row even
    when the index holds every column the condition reads; with ``SELECT 1`` a covering index
    is enough (migration 0008_search), no row of the index table is read."""
    return exists(literal_column("1"))


class Owner:
    """The (type, id) columns a condition is about: the resource table, or a reference's target."""

    def __init__(self, id_col: Any, res_type: str | None, type_col: Any = None) -> None:
        self.id_col, self.res_type, self.type_col = id_col, res_type, type_col

    def member(self, sub_type_col: Any, sub_id_col: Any, where: list, negate: bool = False) -> ColumnElement:
        if self.res_type is not None:
            sub = select(sub_id_col).where(sub_type_col == self.res_type, *where)
            return self.id_col.notin_(sub) if negate else self.id_col.in_(sub)
        sub = select(sub_type_col, sub_id_col).where(*where)
        pair = tuple_(self.type_col, self.id_col)
        return pair.notin_(sub) if negate else pair.in_(sub)

    def rows(self, param_col: Any, code: str, alternatives: list) -> list:
        """The index-row conditions of one parameter: the parameter in every alternative, so
        SQLite answers each from the value index (MULTI-INDEX OR)."""
        if len(alternatives) <= 1:
            return [param_col == code, *alternatives]
        return [or_(*(and_(param_col == code, a) for a in alternatives))]


class RowOwner(Owner):
    """The resource row itself, tested by a correlated ``EXISTS`` on the index's owner columns
    rather than by ``IN (SELECT ...)``: for every test but the one the search is driven from.

    SQLite materialises each ``IN`` list whole, so ``Encounter?subject=X&date=lt2025`` would
    collect every Encounter before 2025 to intersect it with the resident's few; with ``EXISTS``
    it starts from the resident's Encounters and checks their own date rows."""

    def __init__(self, res_type: str | None) -> None:
        super().__init__(R.c.res_id, res_type, R.c.res_type)

    def member(self, sub_type_col: Any, sub_id_col: Any, where: list, negate: bool = False) -> ColumnElement:
        found = probe().where(sub_type_col == R.c.res_type, sub_id_col == R.c.res_id, *where)
        return ~found if negate else found

    def rows(self, param_col: Any, code: str, alternatives: list) -> list:
        """Checked per candidate row, from its own rows: the parameter kept out of index lookups."""
        return [unindexed(param_col) == code, *([or_(*alternatives)] if alternatives else [])]


class unindexed(FunctionElement):
    """A column the planner must not look up by an index: ``+column`` on SQLite, the column
    elsewhere.  A per-row check names its parameter this way, so SQLite reads the candidate's own
    rows (owner index) instead of every row with the value: its statistics keep one average per
    index prefix and cannot tell a common code (``status=executed``) from a rare one."""

    type = String()
    inherit_cache = True


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def resource_owner(res_type: str | None) -> Owner:
    return Owner(R.c.res_id, res_type, R.c.res_type)


# how well a test narrows the rows it is driven from: exact references and codes first
_DRIVE = {"reference": 0, "token": 1, "uri": 2, "string": 3}


def _driver(tests: tuple[Test, ...]) -> int | None:
    """The test the search starts from (its ``IN`` list); the others are checked per row."""
    best: tuple[int, int] | None = None
    for index, test in enumerate(tests):
        if isinstance(test, ValueTest) and not test.negated and test.param.code not in ("_id", "_lastUpdated"):
            rank = 5 if test.param.code in fulltext.PARAMS else _DRIVE.get(test.param.type, 4)
        elif isinstance(test, ChainTest):
            rank = 3
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, index)
    return best[1] if best else None


def condition(owner: Owner, test: Test) -> ColumnElement:
    if isinstance(test, ValueTest):
        return _value(owner, test)
    if isinstance(test, MissingTest):
        return _missing(owner, test)
    if isinstance(test, ChainTest):
        return _chain(owner, test)
    if isinstance(test, HasTest):
        return _has(owner, test)
    if isinstance(test, AnyTest):
        return or_(*(condition(owner, t) for t in test.tests))
    raise TypeError(test)


def _value(owner: Owner, test: ValueTest) -> ColumnElement:
    code = test.param.code
    if code in ("_id", "_lastUpdated") and owner.id_col is R.c.res_id:
        return _column_param(test)
    if code == "_id":
        found = owner.id_col.in_([v.code for v in test.values])
        return ~found if test.negated else found
    if code in fulltext.PARAMS:
        text = TEXT_TABLE.alias()
        matched = or_(*(TextMatch(text, v) for v in test.values))
        return owner.member(text.c.res_type, text.c.res_id, owner.rows(text.c.param, code, [matched]))
    kind = KINDS[test.param.type]
    t = INDEX_TABLES[test.param.type].alias()
    values = [kind.condition(t, v, test.modifier) for v in test.values]
    return owner.member(t.c.res_type, t.c.res_id, owner.rows(t.c.param, index_code(test), values),
                        negate=test.negated)


def index_code(test: ValueTest) -> str:
    """The ``param`` column the test reads: the parameter's code, or the rows a modifier has of
    its own (``name:pinyin``)."""
    return pinyin.index_code(test.param.code) if test.modifier == pinyin.MODIFIER else test.param.code


def _column_param(test: ValueTest) -> ColumnElement:
    if test.param.code == "_id":
        found = R.c.res_id.in_([v.code for v in test.values])
        return ~found if test.negated else found
    view = SimpleNamespace(c=SimpleNamespace(low=R.c.last_updated, high=R.c.last_updated))
    return or_(*(date.condition(view, v, None) for v in test.values))


def _missing(owner: Owner, test: MissingTest) -> ColumnElement:
    if test.param.code in ("_id", "_lastUpdated"):
        return false() if test.missing else true()

    t = INDEX_TABLES[test.param.type].alias()
    return owner.member(t.c.res_type, t.c.res_id, owner.rows(t.c.param, test.param.code, []), negate=test.missing)


def _chain(owner: Owner, test: ChainTest) -> ColumnElement:
    ref = INDEX_TABLES["reference"].alias()
    target = test.target_types[0]
    inner = condition(Owner(ref.c.target_id, target, ref.c.target_type), test.test)
    return owner.member(ref.c.res_type, ref.c.res_id,
                        [ref.c.param == test.param.code, ref.c.target_type == target, inner])


def _has(owner: Owner, test: HasTest) -> ColumnElement:
    ref = INDEX_TABLES["reference"].alias()
    inner = condition(Owner(ref.c.res_id, test.source_type, ref.c.res_type), test.test)
    where = [ref.c.res_type == test.source_type, ref.c.param == test.param.code, inner]
    if owner.res_type is not None:
        sub = select(ref.c.target_id).where(ref.c.target_type == owner.res_type, *where)
        return owner.id_col.in_(sub)
    return tuple_(owner.type_col, owner.id_col).in_(select(ref.c.target_type, ref.c.target_id).where(*where))


def filters(res_type: str | None, types: tuple[str, ...], tests: tuple[Test, ...]) -> list[ColumnElement]:
    """The WHERE clause of a search over the resource table."""
    where: list[ColumnElement] = [R.c.deleted.is_(False)]
    if res_type is not None:
        where.append(R.c.res_type == res_type)
    elif types:
        where.append(R.c.res_type.in_(types))
    owner, per_row = resource_owner(res_type), RowOwner(res_type)
    driver = _driver(tests)
    where.extend(condition(owner if i == driver else per_row, t) for i, t in enumerate(tests))
    return where


def order_by(sort: tuple[SortKey, ...]) -> list[Any]:
    """ORDER BY for ``_sort``; missing values last, then a stable tie-break on identity."""
    terms: list[Any] = []
    for key in sort:
        column = _sort_column(key)
        terms.append((column.desc() if key.descending else column.asc()).nulls_last())
    if not sort:
        terms.append(R.c.last_updated.asc())
    return terms + [R.c.res_type.asc(), R.c.res_id.asc()]


def _sort_column(key: SortKey) -> Any:
    if key.param.code == "_id":
        return R.c.res_id
    if key.param.code == "_lastUpdated":
        return R.c.last_updated
    t = INDEX_TABLES[key.param.type].alias()
    asc_col, desc_col = KINDS[key.param.type].SORT_COLUMNS
    value = func.max(t.c[desc_col]) if key.descending else func.min(t.c[asc_col])
    return select(value).where(t.c.res_type == R.c.res_type, t.c.res_id == R.c.res_id,
                               t.c.param == key.param.code).scalar_subquery()

