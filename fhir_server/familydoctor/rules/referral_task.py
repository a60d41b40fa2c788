"""The ``jiayi-referral-task`` state machine (SPEC §3 jiayi-referral-task, §4 Referrals).

requested → received → accepted | rejected → in-progress → completed, with cancelled before
the work starts and failed once it has, following the R4 Task state machine (task.html
"Task state machine"): ``draft`` is a proposal not yet sent (the follow-up rules raise
those), ``on-hold`` pauses work in progress, and ``entered-in-error`` is always allowed.
``ready`` is not used: a referral is always claimed and accepted by its receiver.

Checked on every write of a Task whose focus is a jiayi-referral (or that claims the
profile): a changed status must be an allowed transition (409 naming it), a new Task
created by POST starts at draft or requested (422), and a rejected Task says why
(``statusReason``, 422).  A Task first written by PUT with its own id is a record mirrored
from the system that manages it (the demo district, the HL7 v2 and public-health
adapters): it may start in any state of the machine.
"""

from __future__ import annotations

from fhir_server.core import elements as el
from fhir_server.core.errors import Conflict, Issue, Unprocessable
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.repository.base import UnitOfWork, WriteEvent

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"requested", "cancelled"}),
    "requested": frozenset({"received", "accepted", "rejected", "cancelled"}),
    "received": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"in-progress", "cancelled"}),
    "in-progress": frozenset({"on-hold", "completed", "failed"}),
    "on-hold": frozenset({"in-progress", "failed"}),
    "rejected": frozenset(),
    "cancelled": frozenset(),
    "failed": frozenset(),
    "completed": frozenset(),
    "entered-in-error": frozenset(),
}
INITIAL = frozenset({"draft", "requested"})
ALWAYS = "entered-in-error"
FINAL = frozenset(s for s, after in TRANSITIONS.items() if not after)


def allowed(before: str, after: str) -> bool:
    return before == after or after == ALWAYS or after in TRANSITIONS.get(before, frozenset())


def is_referral_task(uow: UnitOfWork, task: dict) -> bool:
    if n.REFERRAL_TASK in ((task.get("meta") or {}).get("profile") or []):
        return True
    focus = el.ref_key(task.get("focus"))
    return bool(focus and focus[0] == "ServiceRequest" and r.is_referral(queries.resolve(uow, task["focus"])))


def check_task(uow: UnitOfWork, event: WriteEvent) -> None:
    """Write hook: the referral Task's transitions and states."""
    task = event.resource
    if event.res_type != "Task" or task is None or not is_referral_task(uow, task):
        return
    status = task.get("status")
    previous = event.previous.content if event.previous and not event.previous.deleted else None
    if status not in TRANSITIONS:
        raise Unprocessable([_issue(f"Referral Task status '{status}' is not part of the referral state machine "
                                    f"({', '.join(TRANSITIONS)})")])
    if previous is None:
        _check_first(event, status)
    elif not allowed(str(previous.get("status")), status):
        raise Conflict([_issue(f"Referral Task {event.res_type}/{event.res_id} cannot go from "
                               f"'{previous.get('status')}' to '{status}'; allowed from "
                               f"'{previous.get('status')}': {_list(previous.get('status'))}")])
    if status == "rejected" and not task.get("statusReason"):
        raise Unprocessable([Issue("business-rule", "A rejected referral Task must say why (Task.statusReason; "
                                   "拒绝理由)", expression=("Task.statusReason",))])


def _check_first(event: WriteEvent, status: str) -> None:
    if event.method == "POST" and status not in INITIAL:
        raise Unprocessable([_issue(f"A new referral Task starts as 'requested' (or 'draft'), not '{status}'; "
                                    "a record mirrored from another system is written with PUT and its own id")])


def _list(status: str | None) -> str:
    after = sorted(TRANSITIONS.get(status or "", frozenset()) | {ALWAYS})
    return ", ".join(after)


def _issue(text: str) -> Issue:
    return Issue("business-rule", text, expression=("Task.status",))
