"""Counted members → an R4 MeasureReport (summary, subject-list or individual), stratified.

The members are counted as they come, in one pass: a report over 100,000 residents holds a few
counters per stratum (and, for a subject list, the references listed), never the members.
"""

from __future__ import annotations

from collections.abc import Iterable

from .catalog import POPULATION, MeasureRow, populations
from .indicators import Member
from .snapshot import Period


class _Tally:
    __slots__ = ("members", "denominator", "numerator")

    def __init__(self) -> None:
        self.members = self.denominator = self.numerator = 0

    def add(self, member: Member) -> None:
        self.members += member.weight
        self.denominator += member.denominator
        self.numerator += member.numerator

    def counts(self, scoring: str) -> dict[str, int]:
        if scoring == "cohort":
            return {"initial-population": self.members}
        return {"initial-population": self.denominator, "denominator": self.denominator,
                "numerator": self.numerator}


STRATIFIERS = ("institution", "team", "key-population")


def _score(counts: dict[str, int], scoring: str, override_denominator: int | None) -> float | None:
    if scoring == "cohort":
        return None
    denominator = override_denominator if override_denominator is not None else counts["denominator"]
    return round(counts["numerator"] / denominator, 4) if denominator else None


def _population(code: str, count: int, subjects: list[str] | None) -> dict:
    entry: dict = {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": count}
    if subjects is not None:
        entry["subjectResults"] = {"reference": f"#{code}"}
    return entry


def _subject_lists(listed: list[str], numerators: list[str], scoring: str) -> list[dict]:
    lists = []
    for code in populations(scoring):
        chosen = numerators if code == "numerator" else listed
        entry: dict[str, object] = {"resourceType": "List", "id": code, "status": "current", "mode": "snapshot",
                                    "title": code}
        if chosen:
            entry["entry"] = [{"item": {"reference": subject}} for subject in chosen]
        lists.append(entry)
    return lists


def measure_report(row: MeasureRow, members: Iterable[Member], period: Period, *, report_type: str = "summary",
                   subject: str | None = None, resident_population: int | None = None,
                   generated: str | None = None) -> dict:
    listed = report_type == "subject-list"
    total = _Tally()
    strata: dict[str, dict[str, _Tally]] = {name: {} for name in STRATIFIERS}
    subjects: list[str] = []
    numerators: list[str] = []
    for m in members:
        if subject is not None and m.patient != subject and m.subject != subject:
            continue
        total.add(m)
        for name, by_value in strata.items():
            for value in m.strata.get(name, ()):
                tally = by_value.get(value)
                if tally is None:
                    tally = by_value[value] = _Tally()
                tally.add(m)
        if listed:
            subjects.append(m.subject)
            if m.numerator:
                numerators.append(m.subject)
    counts = total.counts(row.scoring)
    group: dict = {"code": {"text": row.title},
                   "population": [_population(code, n, [] if listed else None) for code, n in counts.items()]}
    override = resident_population if row.indicator == "coverage" and subject is None else None
    if override is not None:
        group["population"][1]["count"] = override
        group["population"][0]["count"] = override
    score = _score(counts, row.scoring, override)
    if score is not None:
        group["measureScore"] = {"value": score}
    if row.scoring == "cohort":
        group["measureScore"] = {"value": counts["initial-population"]}
    group["stratifier"] = [_stratifier(name, strata[name], row.scoring) for name in STRATIFIERS]
    report: dict = {
        "resourceType": "MeasureReport", "status": "complete",
        "type": {"summary": "summary", "subject-list": "subject-list", "individual": "individual"}[report_type],
        "measure": row.url, "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                            "measure-improvement-notation", "code": row.improvement}]},
        "group": [group],
    }
    if generated:
        report["date"] = generated
    if subject:
        report["subject"] = {"reference": subject}
    if listed:
        report["contained"] = _subject_lists(subjects, numerators, row.scoring)
    return report


def _stratifier(name: str, strata: dict[str, _Tally], scoring: str) -> dict:
    stratum = []
    for value in sorted(strata):
        counts = strata[value].counts(scoring)
        entry: dict = {"value": {"text": value},
                       "population": [_population(code, n, None) for code, n in counts.items()]}
        score = _score(counts, scoring, None)
        if score is not None:
            entry["measureScore"] = {"value": score}
        elif scoring == "cohort":
            entry["measureScore"] = {"value": counts["initial-population"]}
        stratum.append(entry)
    return {"code": [{"text": name}], "stratum": stratum} if stratum else {"code": [{"text": name}]}
