"""The synthetic district: ``generate_district`` and the lazily generated ``District`` (SPEC §8).

Same seed, size and ``as_of`` → the same resources, byte for byte: every random draw
comes from ``random.Random`` streams seeded from the seed, consumed in a fixed order,
and every id is client-assigned from the position of the thing it names.  Nothing but
the layout (one byte per household, one object per team) is held in memory, so 1M
residents stream through in constant memory.

Resources come in dependency order — organisations, staff, teams, packages, schedules
and slots, then household by household: patients, the household Group, contracts,
conditions, follow-ups with observations, referrals, the health-management plan — so loading
them in order with ``PUT Type/id`` (as ``transaction_bundles`` does) never meets a dangling
reference and loading twice changes nothing.  ``transaction_bundles`` puts the plans in a
bundle of their own after their residents' bundle, so the follow-up rules, which judge a visit
when its transaction commits, find no plan to add a 2-week follow-up to (the plan is what
``$apply`` would store on the demo's day, see ``care_plans``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import care_plans, clinical, contracts, facilities, referrals, scheduling, services
from .layout import Layout, plan_district
from .patients import household_group, make_home, patient
from .residents import assign_key_populations, make_household

DEFAULT_SEED = 20261123
DEFAULT_AS_OF = dt.date(2026, 11, 23)


@dataclass
class District:
    """A synthetic district; iterate ``resources()`` or ``transaction_bundles()``."""

    seed: int
    residents: int
    as_of: dt.date
    layout: Layout
    _summary: dict[str, int] | None = field(default=None, repr=False)

    def resources(self) -> Iterator[dict]:
        """Every resource of the district, in dependency order (a new generator each call)."""
        year = self.as_of.year
        yield from facilities.organizations(self.layout)
        yield from facilities.staff_resources(self.layout)
        yield from services.care_teams(self.layout, year)
        yield from services.plan_definitions(year)
        yield from scheduling.schedules_and_slots(self.layout, self.as_of, self.seed)
        yield from self._households()

    def _households(self) -> Iterator[dict]:
        rng, as_of, layout = random.Random(self.seed * 7 + 4), self.as_of, self.layout
        serials: Counter = Counter()
        first, n_households = 0, len(layout.household_sizes)
        n_teams = len(layout.teams)
        for h, size in enumerate(layout.household_sizes):
            t = h * n_teams // n_households
            team = layout.teams[t]
            lo, hi = -(-t * n_households // n_teams), -(-(t + 1) * n_households // n_teams)
            hood = team.neighbourhoods[0 if h < (lo + hi) // 2 else 1]
            home = make_home(rng, team, hood, h)
            people = make_household(rng, first, size, as_of)
            first += size
            assign_key_populations(rng, people, hood[2] is not None)
            yield from self._household(rng, h, people, home, serials)

    def _household(self, rng: random.Random, h: int, people: list, home, serials: Counter) -> Iterator[dict]:
        as_of, group_id = self.as_of, f"hh-{h:06d}"
        signings = contracts.decide(rng, people, h, as_of)
        executed = {p.index: (s.id, s.start) for s in signings if s.status == "executed" for p in s.covered}
        roles = "".join(p.role for p in people)
        lead = home.team.lead.id
        for p in people:
            key = (home.team.index, home.neighbourhood[0])
            serials[key] += 1
            yield patient(p, home, serials[key], roles, lead if p.index in executed else None, self.seed)
        yield household_group(group_id, people, home)
        for s in signings:
            yield contracts.contract(rng, s, home, group_id)
        for p in people:
            if p.key:
                signed = executed.get(p.index)
                yield from clinical.conditions(rng, p, home, as_of)
                visits = []
                for res in clinical.follow_ups(rng, p, home, as_of, signed):
                    if res["resourceType"] == "Encounter":
                        visits.append(res)
                    yield res
                yield from referrals.referrals(rng, p, home, self.layout, as_of, signed)
                if signed:
                    yield from self._plan(p, signings, home, visits)

    @staticmethod
    def _plan(p, signings: list, home, visits: list[dict]) -> Iterator[dict]:
        """The health-management plan of a signed resident with a chronic condition."""
        s = next(s for s in signings if s.status == "executed" and p in s.covered)
        packages = [pid for pid, covered in s.packages.items() if p in covered]
        plan = care_plans.care_plan(p, s.id, s.start, s.end, packages, home.team.lead.id, home.team.id, visits)
        if plan is not None:
            yield plan

    def transaction_bundles(self, size: int = 500) -> Iterator[dict]:
        """The resources as FHIR transaction Bundles of at most ``size`` PUT entries each."""
        if size < 1:
            raise ValueError("a bundle holds at least one entry")
        entries: list[dict] = []
        plans: list[dict] = []  # after their residents' bundle: see care_plans
        for res in self.resources():
            url = f"{res['resourceType']}/{res['id']}"
            (plans if res["resourceType"] == "CarePlan" else entries).append(
                {"resource": res, "request": {"method": "PUT", "url": url}})
            if len(entries) == size:
                yield {"resourceType": "Bundle", "type": "transaction", "entry": entries}
                entries = []
                if plans:
                    yield {"resourceType": "Bundle", "type": "transaction", "entry": plans}
                    plans = []
        for last in (entries, plans):
            if last:
                yield {"resourceType": "Bundle", "type": "transaction", "entry": last}

    def summary(self) -> dict[str, int]:
        """Resources per type (generates the district once, then remembers the counts)."""
        if self._summary is None:
            counts = Counter(r["resourceType"] for r in self.resources())
            self._summary = dict(sorted(counts.items()))
        return dict(self._summary)


def generate_district(seed: int = DEFAULT_SEED, residents: int = 1000,
                      as_of: dt.date | None = None) -> District:
    """Plan a synthetic district of ``residents`` people as of ``as_of``.

    ``as_of`` defaults to a fixed date (``DEFAULT_AS_OF``) so the output never depends on
    the day it runs; pass ``datetime.date.today()`` for a demo whose contracts are current.
    """
    if residents < 1:
        raise ValueError("a district has at least one resident")
    return District(seed, residents, as_of or DEFAULT_AS_OF, plan_district(seed, residents))
