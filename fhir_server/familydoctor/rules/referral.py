"""Referrals (SPEC §4 双向转诊): priority and green channel for upward referrals inside the
resident's "1+1+1" combination, and downward referrals closing the loop of an upward one.

- An upward referral requested by one of the resident's own family doctors (a family doctor
  of the team of the contract in force on the day it is authored) to a hospital of that
  contract's ``jiayi-combination-hospital`` list, or to any Organization flagged
  ``jiayi-partner-hospital``, is amended before it is stored: ``priority`` at least
  ``urgent`` and ``jiayi-green-channel`` true.  The server only raises: a priority the
  client set higher (asap, stat) or a green channel granted for another reason is kept.
- A downward referral ``basedOn`` an upward one must be about the same resident; the upward
  referral's Task gets the return referral as an ``output`` (type return-referral), which is
  what the return rate (回转率) counts.  The same link is kept when the Task is written
  after the return referral.
"""

from __future__ import annotations

from fhir_server.core import elements as el
from fhir_server.core import jiayi_names as jn
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.familydoctor import names as n
from fhir_server.familydoctor import queries
from fhir_server.familydoctor import records as r
from fhir_server.familydoctor.rules.follow_up_plan import schedule_soon
from fhir_server.familydoctor.rules.referral_task import is_referral_task
from fhir_server.repository.base import UnitOfWork, WriteEvent

RANK = {"routine": 0, "urgent": 1, "asap": 2, "stat": 3}
PRIVILEGED = "urgent"
RETURN_OUTPUT = {"coding": [{"system": n.TASK_OUTPUT, "code": "return-referral", "display": "回转单"}],
                 "text": "回转单"}


def check_referral(uow: UnitOfWork, event: WriteEvent) -> None:
    """Check on ServiceRequest: the green channel of a privileged upward referral (amended in
    place); a downward referral answers an upward one of the same resident (422)."""
    sr = _referral(event)
    if sr is None:
        return
    kind = r.direction(sr)
    if kind == "upward" and privileged(uow, sr):
        raise_priority(sr, PRIVILEGED)
        _set_green_channel(sr)
    if kind == "downward":
        _answered(uow, sr)


def derive_from_referral(uow: UnitOfWork, event: WriteEvent) -> None:
    """Derivation on ServiceRequest (stored): a sent upward referral's follow-up in the plan; a
    downward referral recorded on the Task of the upward one it answers."""
    sr = _referral(event)
    if sr is None:
        return
    kind = r.direction(sr)
    if kind == "upward":
        _follow_up_after(uow, event, sr)
    if kind == "downward":
        for upward in _answered(uow, sr):
            for task in queries.referring(uow, "Task", "focus", f"ServiceRequest/{upward['id']}"):
                add_output(uow, task, RETURN_OUTPUT, f"ServiceRequest/{event.res_id}", "return-referral-output")


def _referral(event: WriteEvent) -> dict | None:
    sr = event.resource
    return sr if event.res_type == "ServiceRequest" and sr is not None and r.is_referral(sr) else None


def check_task_outputs(uow: UnitOfWork, event: WriteEvent) -> None:
    """Check on Task (amended in place): an upward referral's Task lists the return referrals
    already there."""
    task = event.resource
    if event.res_type != "Task" or task is None:
        return
    focus = el.ref_key(task.get("focus"))
    if not focus or focus[0] != "ServiceRequest" or not is_referral_task(uow, task):
        return
    for down in queries.referring(uow, "ServiceRequest", "based-on", f"ServiceRequest/{focus[1]}"):
        if r.direction(down) == "downward":
            _append(task, RETURN_OUTPUT, f"ServiceRequest/{down['id']}")


def _follow_up_after(uow: UnitOfWork, event: WriteEvent, sr: dict) -> None:
    """主动随访: a referral sent (now active) is followed up within 2 weeks in the resident's plan.
    Proposals raised by the follow-up rules have scheduled theirs already."""
    before = event.previous.content if event.previous and not event.previous.deleted else None
    if sr.get("status") != "active" or (before or {}).get("status") == "active":
        return
    if any(i.get("system") == n.PROPOSAL_ID for i in sr.get("identifier") or []):
        return
    patient = el.ref_key(sr.get("subject"))
    if patient and patient[0] == "Patient":
        day = el.day_of(sr.get("authoredOn")) or queries.now(uow).date()
        contract = queries.contract_in_force(uow, patient, day, _contract_hints(sr))
        schedule_soon(uow, patient, ("Contract", contract["id"]) if contract else None, day, None,
                      "转诊后2周内主动随访", f"ServiceRequest/{event.res_id}", because="referral-follow-up")


def privileged(uow: UnitOfWork, sr: dict) -> bool:
    """Requested by the resident's own family doctor, to a combination or partner hospital."""
    patient = el.ref_key(sr.get("subject"))
    doctor = queries.practitioner_of(uow, sr.get("requester"))
    day = el.day_of(sr.get("authoredOn")) or queries.now(uow).date()
    if not patient or patient[0] != "Patient" or doctor is None:
        return False
    contract = queries.contract_in_force(uow, patient, day, _contract_hints(sr))
    if contract is None:
        return False
    team = queries.resolve(uow, el.ext_value(contract, jn.CONTRACT_CARE_TEAM, "Reference"))
    if doctor not in queries.team_family_doctors(uow, team):
        return False
    combination = {el.ref_key(el.ext_value(e, "organization", "Reference"))
                   for e in el.extensions(contract, jn.COMBINATION_HOSPITAL)}
    for performer in sr.get("performer") or []:
        for org in queries.organisation_chain(uow, performer):
            if ("Organization", org.get("id")) in combination or el.ext_value(org, n.PARTNER_HOSPITAL, "Boolean"):
                return True
    return False


def raise_priority(sr: dict, priority: str) -> None:
    if RANK.get(sr.get("priority") or "routine", 0) < RANK[priority]:
        sr["priority"] = priority


def _set_green_channel(sr: dict) -> None:
    for e in el.extensions(sr, n.GREEN_CHANNEL):
        e["valueBoolean"] = True
        return
    sr.setdefault("extension", []).append({"url": n.GREEN_CHANNEL, "valueBoolean": True})


def _answered(uow: UnitOfWork, sr: dict) -> list[dict]:
    """The upward referrals a downward one answers (its ``basedOn`` ServiceRequests)."""
    found = []
    for i, based_on in enumerate(sr.get("basedOn") or []):
        key = el.ref_key(based_on)
        if not key or key[0] != "ServiceRequest":
            continue
        upward = queries.resolve(uow, based_on)
        where = (f"ServiceRequest.basedOn[{i}]",)
        if upward is None:
            continue  # not (yet) on this server: a dangling reference is allowed, as elsewhere
        if r.direction(upward) != "upward":
            raise Unprocessable([Issue("business-rule", f"A downward referral answers an upward referral; "
                                       f"{key[0]}/{key[1]} is not one", expression=where)])
        if el.ref_key(upward.get("subject")) != el.ref_key(sr.get("subject")):
            raise Unprocessable([Issue("business-rule", f"The downward referral is for another resident than "
                                       f"the upward referral {key[0]}/{key[1]} it answers", expression=where)])
        found.append(upward)
    return found


def _append(task: dict, output_type: dict, reference: str) -> bool:
    if any((o.get("valueReference") or {}).get("reference") == reference for o in task.get("output") or []):
        return False
    task.setdefault("output", []).append({"type": output_type, "valueReference": {"reference": reference}})
    return True


def add_output(uow: UnitOfWork, task: dict, output_type: dict, reference: str, because: str) -> None:
    """Record ``reference`` on a stored Task (a new version) unless it is there already."""
    changed = dict(task)
    changed["output"] = [dict(o) for o in task.get("output") or []]
    if _append(changed, output_type, reference):
        stored = uow.get("Task", task["id"], for_update=True)
        if stored is not None and not stored.deleted:
            uow.write_derived(changed, because=because, previous=stored)


def _contract_hints(sr: dict) -> list:
    """Where a referral may name its contract: ``supportingInfo`` (R4 ``basedOn`` takes no
    Contract, but older senders put it there)."""
    return [*(sr.get("supportingInfo") or []), *(sr.get("basedOn") or [])]
