"""The district snapshot shared between evaluations (issue 22): the dashboard's cards are one
``$evaluate-measure`` each, and each used to read the whole district again.

One snapshot per database (engine) is kept while the data it reads is unchanged: its key is a stamp of
the resource types the indicators read (count and latest ``last_updated`` of each, read in the
evaluating transaction, as the search registry's ``_stamp``), so any create, update or delete
of one of them makes the next evaluation read the district afresh.  It is the whole district's:
the caller's reach is applied on every evaluation (:mod:`.reach`), never stored, so principals of
different reach share the district's reading but never a result.

What is kept is the index snapshot's compact part (a tuple per resident and per executed
contract); the members an indicator counts are computed on every evaluation and counted as they
come (:mod:`.report`), not kept: at 100,000 residents the 13 cards' member lists over a few periods
were gigabytes (issue 19).  The encounter counts are SQL aggregations per evaluation.

Not shared: a unit of work that has written (its own uncommitted rows are not the database's),
the in-memory twin (no index tables), and a snapshot passed in by the caller (``jiayi kpi``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, select

from fhir_server.storage.models import ResourceRow

from .index_snapshot import index_snapshot
from .snapshot import DistrictSnapshot

# every type a snapshot reads (snapshot.py's loaders), and SearchParameter: the index snapshot
# is used only while the registry has the parameters it needs
READ_TYPES = ("Patient", "Contract", "CareTeam", "PlanDefinition", "Encounter", "ServiceRequest", "Task",
              "QuestionnaireResponse", "MedicationRequest", "SearchParameter")
DATABASES = 4  # databases with a snapshot kept (a process serves one; tests open many)
T = TypeVar("T")


@dataclass
class _Shared:
    stamp: tuple
    snapshot: DistrictSnapshot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_kept: OrderedDict[object, _Shared] = OrderedDict()
_guard = threading.Lock()


def with_district(uow, use: Callable[[DistrictSnapshot], T]) -> T:
    """``use(snapshot)`` over the whole district (before reach), the snapshot shared with other
    evaluations of the same database while its data is unchanged."""
    index_session = getattr(uow, "index_session", None)
    if index_session is None or getattr(uow, "written", None):
        return use(index_snapshot(uow))
    session = index_session()
    # the engine, not its URL: two in-memory SQLite databases share a URL (and, with a fixed
    # clock, possibly a stamp); a process serves one engine per database
    database, stamp = session.get_bind(), data_stamp(session)
    with _guard:
        shared = _kept.get(database)
        if shared is None or shared.stamp != stamp:
            shared = _kept[database] = _Shared(stamp)  # an older stamp's snapshot is dropped
        _kept.move_to_end(database)
        while len(_kept) > DATABASES:
            _kept.popitem(last=False)
    with shared.lock:  # one evaluation at a time reads through the snapshot (it loads lazily)
        if shared.snapshot is None:
            shared.snapshot = index_snapshot(uow)
        shared.snapshot.bind(uow)
        try:
            return use(shared.snapshot)
        finally:
            shared.snapshot.bind(None)  # no request's session is kept


def forget() -> None:
    """Drop every shared snapshot (tests, benchmarks of the first view)."""
    with _guard:
        _kept.clear()


def data_stamp(session) -> tuple:
    """Count and latest ``last_updated`` of each type the snapshot reads: changes with any write of
    one.  Read once per unit of work (its session): a kept report's evaluation and the shared
    snapshot both ask, and at 100,000 residents the count is ~80 ms on PostgreSQL."""
    stamp = session.info.get(_STAMP)
    if stamp is None:
        rows = session.execute(
            select(ResourceRow.res_type, func.count(), func.max(ResourceRow.last_updated))
            .where(ResourceRow.res_type.in_(READ_TYPES)).group_by(ResourceRow.res_type)).all()
        stamp = session.info[_STAMP] = tuple(sorted((str(t), int(c), str(m)) for t, c, m in rows))
    return stamp


_STAMP = "jiayi.measures.data_stamp"
