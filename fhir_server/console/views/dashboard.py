"""The district dashboard (考核看板): every IG Measure evaluated for a period through
``$evaluate-measure``, with one stratifier as a bar chart, and the subject list on drill-down."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from threading import Lock

from .common import Source, code_display, human_name

STRATIFIERS = ("institution", "team", "key-population")
PRESETS = ("quarter", "last-quarter", "year", "last-year")
CACHE_SECONDS = 300.0
KEY_POPULATION = "https://jiayi.dev/fhir/CodeSystem/key-population"


@dataclass(frozen=True)
class Query:
    start: dt.date
    end: dt.date
    stratifier: str = "institution"
    preset: str = ""

    @classmethod
    def from_args(cls, args, today: dt.date) -> Query:
        stratifier = args.get("stratifier") if args.get("stratifier") in STRATIFIERS else "institution"
        preset = args.get("preset") or ""
        if preset in PRESETS:
            start, end = preset_period(preset, today)
            return cls(start, end, stratifier, preset)
        try:
            start = dt.date.fromisoformat(args.get("start") or "")
            end = dt.date.fromisoformat(args.get("end") or "")
        except ValueError:
            start, end = preset_period("year", today)
            preset = "year"
        if end < start:
            start, end = end, start
        return cls(start, end, stratifier, preset)

    def previous(self) -> Query:
        """The period to compare with: the quarter (year) before a quarter's (year's) start,
        otherwise the same number of days just before."""
        if self.preset in ("quarter", "last-quarter"):
            start, end = preset_period("last-quarter", self.start)
        elif self.preset in ("year", "last-year"):
            start, end = preset_period("last-year", self.start)
        else:
            end = self.start - dt.timedelta(days=1)
            start = end - (self.end - self.start)
        return Query(start, end, self.stratifier, "")

    def args(self, **changes) -> dict:
        values = {"start": str(self.start), "end": str(self.end), "stratifier": self.stratifier}
        values.update(changes)
        return values


def preset_period(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if preset == "quarter":
        return quarter_start, today
    if preset == "last-quarter":
        end = quarter_start - dt.timedelta(days=1)
        return dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    if preset == "last-year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    return dt.date(today.year, 1, 1), today


@dataclass
class Stratum:
    stratum: str
    numerator: int | None
    denominator: int | None
    score: float | None


@dataclass
class Card:
    id: str
    title: str
    scoring: str
    numerator: int | None
    denominator: int | None
    score: float | None
    rows: list[Stratum] = field(default_factory=list)
    previous: float | None = None  # the score of the period before (Query.previous)

    @property
    def shown(self) -> str:
        return self._format(self.score)

    @property
    def previous_shown(self) -> str:
        return self._format(self.previous)

    @property
    def trend(self) -> str:
        if self.score is None or self.previous is None or self.score == self.previous:
            return ""
        return "↑" if self.score > self.previous else "↓"

    def _format(self, score: float | None) -> str:
        if score is None:
            return "–"
        return f"{score:.1%}" if self.scoring == "proportion" else f"{score:g}"


@dataclass
class Dashboard:
    cards: list[Card]


def measures(source: Source) -> list[dict]:
    """The Measures the server evaluates (the page lists them; each card is filled in on its own)."""
    return source.search("Measure?_count=100&_sort=url&_elements=title,name,scoring,url")


class NotYet(Exception):  # noqa: N818 - a state, not a failure
    """The server is evaluating the summary (it has none kept young enough): ask again shortly."""


def build(source: Source, query: Query) -> Dashboard:
    """Every Measure evaluated (the CSV export: it waits for the evaluations)."""
    cards = []
    for measure in measures(source):
        report = evaluate(source, measure["id"], query, "summary", wait=True)
        if report is None:
            continue
        cards.append(card(measure, report, query.stratifier))
    return Dashboard(cards)


def one_card(source: Source, measure_id: str, query: Query) -> Card | None:
    """A Measure's card, from the server's kept summary (:class:`NotYet` while it evaluates one)."""
    measure = source.read(f"Measure/{measure_id}")
    report = evaluate(source, measure_id, query, "summary") if measure else None
    if not (measure and report):
        return None
    shown = card(measure, report, query.stratifier)
    for row in shown.rows:
        row.stratum = (code_display(source, {"system": KEY_POPULATION, "code": row.stratum})
                       if query.stratifier == "key-population" else stratum_name(source, row.stratum))
    return shown


def with_previous(source: Source, measure_id: str, query: Query) -> Card | None:
    """A card's score and the period before's (asked by the page once every card is shown: a
    second evaluation of the district, so the first view of a card does not wait for it;
    :class:`NotYet` while the server evaluates either)."""
    measure = source.read(f"Measure/{measure_id}")
    report = evaluate(source, measure_id, query, "summary") if measure else None
    if not (measure and report):
        return None
    shown = card(measure, report, query.stratifier)
    before = evaluate(source, measure_id, query.previous(), "summary")
    if before:
        shown.previous = card(measure, before, query.stratifier).score
    return shown


_names: dict[str, str] = {}


def stratum_name(source: Source, value: str) -> str:
    """An institution's or team's name for a stratum that is a reference (the report keeps ids)."""
    if not value.startswith(("Organization/", "CareTeam/")):
        return value
    if value not in _names:
        resource = source.read(value)
        _names[value] = str((resource or {}).get("name") or value)
    return _names[value]


def evaluate(source: Source, measure_id: str, query: Query, report_type: str, wait: bool = False) -> dict | None:
    """The MeasureReport; a summary the server has not kept raises :class:`NotYet` unless ``wait``."""
    url = (f"Measure/{measure_id}/$evaluate-measure?periodStart={query.start}&periodEnd={query.end}"
           f"&reportType={report_type}")
    return _cached(source, url, wait or report_type != "summary")


def card(measure: dict, report: dict, stratifier: str) -> Card:
    scoring = ((measure.get("scoring") or {}).get("coding") or [{}])[0].get("code", "proportion")
    group = (report.get("group") or [{}])[0]
    counts = _counts(group.get("population"))
    rows = []
    for strat in group.get("stratifier") or []:
        if ((strat.get("code") or [{}])[0]).get("text") != stratifier:
            continue
        for stratum in strat.get("stratum") or []:
            values = _counts(stratum.get("population"))
            rows.append(Stratum((stratum.get("value") or {}).get("text", ""), _main(values),
                                values.get("denominator"), (stratum.get("measureScore") or {}).get("value")))
    return Card(measure["id"], measure.get("title") or measure.get("name") or measure["id"], scoring,
                _main(counts), counts.get("denominator"), (group.get("measureScore") or {}).get("value"), rows)


def subjects(source: Source, query: Query, measure_id: str) -> list[str]:
    """The numerator's subjects (references) of one measure: the drill-down."""
    if not measure_id:
        return []
    report = evaluate(source, measure_id, query, "subject-list", wait=True) or {}
    lists = {c.get("id"): c for c in report.get("contained") or []}
    chosen = lists.get("numerator") or lists.get("initial-population") or {}
    return [(e.get("item") or {}).get("reference", "") for e in chosen.get("entry") or []]


PAGE = 100  # subjects per drill-down page (the total is always shown)


def subject_names(source: Source, references: list[str]) -> dict[str, str]:
    """The names of the Patients among one page of subjects, in one search (a resident the
    user may not read keeps its reference)."""
    ids = ",".join(r.split("/", 1)[1] for r in references[:PAGE] if r.startswith("Patient/"))
    if not ids:
        return {}
    return {f"Patient/{p['id']}": human_name(p)
            for p in source.search(f"Patient?_id={ids}&_elements=name&_count={PAGE}")}


def _counts(populations: list[dict] | None) -> dict[str, int]:
    out = {}
    for population in populations or []:
        code = ((population.get("code") or {}).get("coding") or [{}])[0].get("code")
        if code:
            out[code] = population.get("count", 0)
    return out


def _main(counts: dict[str, int]) -> int | None:
    return counts.get("numerator", counts.get("initial-population"))


_cache: dict[tuple, tuple[float, dict | None]] = {}
_cache_lock = Lock()


def _cached(source: Source, url: str, wait: bool) -> dict | None:
    """A MeasureReport evaluates the whole district: kept a few minutes per user (token) and URL,
    and asked of the server as an answer up to as old (its kept summaries, refreshed in the
    background: ``familydoctor/measures/kept.py``).  Unless ``wait``, only a kept one: a page's
    request never waits for a whole-district evaluation (:class:`NotYet` meanwhile)."""
    key = (getattr(source, "token", None), url)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
    answer = source.get(url, int(CACHE_SECONDS), only_if_cached=not wait)
    if answer.status == 504 and not wait:
        raise NotYet(url)
    report = answer.resource if answer.ok else None
    with _cache_lock:
        for stale in [k for k, (until, _) in _cache.items() if until <= now]:
            del _cache[stale]
        _cache[key] = (now + CACHE_SECONDS, report)
    return report
