"""Counted members → an R4 MeasureReport (summary, subject-list or individual), stratified."""

from __future__ import annotations

from collections.abc import Iterable

from .catalog import POPULATION, MeasureRow, populations
from .indicators import Member
from .snapshot import Period


def _counts(members: list[Member], scoring: str) -> dict[str, int]:
    initial = sum(m.denominator for m in members)
    if scoring == "cohort":
        return {"initial-population": len(members)}
    return {"initial-population": initial, "denominator": initial,
            "numerator": sum(m.numerator for m in members)}


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


def _subject_lists(members: list[Member], scoring: str) -> list[dict]:
    lists = []
    for code in populations(scoring):
        chosen = [m for m in members if code != "numerator" or m.numerator]
        listed: dict[str, object] = {"resourceType": "List", "id": code, "status": "current", "mode": "snapshot",
                                     "title": code}
        if chosen:
            listed["entry"] = [{"item": {"reference": m.subject}} for m in chosen]
        lists.append(listed)
    return lists


def measure_report(row: MeasureRow, members: Iterable[Member], period: Period, *, report_type: str = "summary",
                   subject: str | None = None, resident_population: int | None = None,
                   generated: str | None = None) -> dict:
    members = [m for m in members if subject is None or m.patient == subject or m.subject == subject]
    counts = _counts(members, row.scoring)
    listed = report_type == "subject-list"
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
    group["stratifier"] = [_stratifier(name, members, row.scoring) for name in ("institution", "team",
                                                                              "key-population")]
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
        report["contained"] = _subject_lists(members, row.scoring)
    return report


def _stratifier(name: str, members: list[Member], scoring: str) -> dict:
    strata: dict[str, list[Member]] = {}
    for member in members:
        for value in member.strata.get(name, ()):
            strata.setdefault(value, []).append(member)
    stratum = []
    for value in sorted(strata):
        counts = _counts(strata[value], scoring)
        entry: dict = {"value": {"text": value},
                       "population": [_population(code, n, None) for code, n in counts.items()]}
        score = _score(counts, scoring, None)
        if score is not None:
            entry["measureScore"] = {"value": score}
        elif scoring == "cohort":
            entry["measureScore"] = {"value": counts["initial-population"]}
        stratum.append(entry)
    return {"code": [{"text": name}], "stratum": stratum} if stratum else {"code": [{"text": name}]}
