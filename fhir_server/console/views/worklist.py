"""The family doctor's worklist (家庭医生工作台): what to do today, each row a resident."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .common import (
    DERIVED_BY,
    TASK_CODE,
    Source,
    concept_text,
    day,
    display,
    extension,
    human_name,
    ref,
    ref_id,
    together,
)

RENEWAL_WINDOW_DAYS = 30  # the $renew-due default window (Appendix A)
UPCOMING_DAYS = 14
PAGE = 20  # rows per section: the first twenty of each (the badge says "20+")


@dataclass
class Row:
    patient_id: str
    patient: str
    what: str
    when: str = ""
    action: str | None = None  # a console action name (renew), posted with ``target``
    target: str = ""
    urgent: bool = False


@dataclass
class Worklist:
    sections: dict[str, list[Row]] = field(default_factory=dict)

    def count(self, name: str) -> int:
        return len(self.sections.get(name, []))


def build(source: Source, practitioner: str | None, today: dt.date) -> Worklist:
    """Every section; a search the user may not make finds nothing (the API decides)."""
    teams = teams_of(source, practitioner)
    until = today + dt.timedelta(days=UPCOMING_DAYS)
    sections = together(
        source,
        lambda: follow_ups(source, f"activity-due=lt{today}", today, teams),
        lambda: follow_ups(source, f"activity-due=ge{today}&activity-due=le{until}", today, teams, until),
        lambda: renewals(source, today, teams),
        lambda: proposals(source, practitioner),
        lambda: returns(source),
        lambda: two_card(source))
    return Worklist(dict(zip(("overdue", "upcoming", "renewals", "proposals", "returns", "two_card"), sections,
                             strict=True)))


def follow_ups(source: Source, due: str, today: dt.date, teams: list[str] | None = None,
               until: dt.date | None = None) -> list[Row]:
    """Plans with a follow-up due as ``due`` says (of the doctor's teams), each with the residents'
    names (``_include``: a plan ``$apply`` stored names its subject without a display); the date
    shown is the first open window's end that is overdue (``lt``) or else due by ``until``.  (Two
    ``activity-due`` bounds may each be met by a different activity, so a plan with one window
    overdue and one next year matches ``ge``/``le``: such a plan has nothing due soon.)"""
    if teams == []:
        return []
    team_filter = f"&care-team={','.join(teams)}" if teams else ""
    found = source.search(f"CarePlan?status=active&{due}{team_filter}&_count={PAGE}&_sort=-_lastUpdated"
                          "&_include=CarePlan:subject")
    names = {f"Patient/{p['id']}": human_name(p) for p in found if p.get("resourceType") == "Patient"}
    overdue = due.startswith("activity-due=lt")
    rows = []
    for plan in (p for p in found if p.get("resourceType", "CarePlan") == "CarePlan"):
        open_ends = [day(a.get("detail", {}).get("scheduledPeriod", {}).get("end", ""))
                     for a in plan.get("activity") or []
                     if a.get("detail", {}).get("status") in ("scheduled", "not-started")]
        first = min((e for e in open_ends if e and (e < str(today)) == overdue
                     and (until is None or e <= str(until))), default="")
        if not first:
            continue
        subject = plan.get("subject") or {}
        rows.append(Row(ref_id(subject), (subject.get("display") or names.get(ref(subject))) or ref(subject),
                        plan.get("title") or concept_text((plan.get("category") or [None])[0]) or "随访",
                        first, urgent=overdue))
    return sorted(rows, key=lambda r: r.when)


def teams_of(source: Source, practitioner: str | None) -> list[str] | None:
    """The care teams the doctor is a member of (None: not a doctor, no team filter)."""
    if not practitioner:
        return None
    return [f"CareTeam/{t['id']}" for t in source.search(f"CareTeam?participant=Practitioner/{practitioner}"
                                                         "&status=active&_elements=id&_count=50")]


def renewals(source: Source, today: dt.date, teams: list[str] | None = None) -> list[Row]:
    """Contracts in force that end within the window and are not renewed yet (of the doctor's
    teams: the worklist is the doctor's own residents)."""
    if teams == []:
        return []
    until = today + dt.timedelta(days=RENEWAL_WINDOW_DAYS)
    team_filter = f"&care-team={','.join(teams)}" if teams else ""
    rows = []
    found = source.search(f"Contract?status=executed&expiry=le{until}{team_filter}&_count={PAGE}&_sort=expiry"
                          "&_revinclude=Contract:renews")
    renewed = {ref((extension(c, "jiayi-renews") or {}).get("valueReference")) for c in found}
    for contract in found:
        if f"Contract/{contract['id']}" in renewed or (extension(contract, "jiayi-renews") and
                                                      contract.get("applies", {}).get("start", "") > str(today)):
            continue  # renewed already, or the renewal itself (not yet in force)
        subject = (contract.get("subject") or [{}])[0]
        packages = "、".join(t.get("text") or display(t.get("topicReference")) for t in contract.get("term") or [])
        end = (contract.get("applies") or {}).get("end", "")
        rows.append(Row(ref_id(subject), display(subject), packages or "签约", day(end), action="renew",
                        target=contract["id"], urgent=bool(end) and end[:10] < str(today)))
    return rows


def proposals(source: Source, practitioner: str | None) -> list[Row]:
    owner = f"&owner=Practitioner/{practitioner}" if practitioner else ""
    rows = []
    for task in source.search(f"Task?status=draft&code={TASK_CODE}|approve{owner}&_count={PAGE}&_sort=-authored-on"):
        rows.append(Row(ref_id(task.get("for")), display(task.get("for")), task.get("description") or "转诊建议",
                        day(task.get("authoredOn")), urgent=task.get("priority") in ("urgent", "asap", "stat"),
                        target=ref(task.get("focus"))))
    return sorted(rows, key=lambda r: not r.urgent)


def returns(source: Source) -> list[Row]:
    rows = []
    for referral in source.search(f"ServiceRequest?direction=downward&status=active,completed&_count={PAGE}"
                                  "&_sort=-authored"):
        rows.append(Row(ref_id(referral.get("subject")), display(referral.get("subject")),
                        concept_text(referral.get("code")) or "下转", day(referral.get("authoredOn")),
                        target=f"ServiceRequest/{referral['id']}"))
    return rows


def two_card(source: Source) -> list[Row]:
    rows = []
    for task in source.search(f"Task?status=requested&_tag={DERIVED_BY}|record-service-confirmation&_count={PAGE}"):
        rows.append(Row(ref_id(task.get("for")), display(task.get("for")),
                        task.get("description") or "两卡制服务记录待确认", day(task.get("authoredOn")),
                        target=ref(task.get("focus"))))
    return rows


def is_green(referral: dict) -> bool:
    ext = extension(referral, "jiayi-green-channel")
    return bool(ext and ext.get("valueBoolean"))
