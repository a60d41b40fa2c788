"""The shape of a synthetic district: households, institutions, villages, teams and their staff.

Everything here is small (one entry per team or institution) except the household sizes,
kept as one byte each, so a 1M-resident district plans in well under a second.  Residents
themselves are made later, household by household (see ``residents.py``).

Rules from the seeds: a team serves about 1,000 and at most 1,500 households (002 二(一));
a team is led by a family doctor and may add nurses, public-health physicians, health
managers, pharmacists, TCM practitioners and, in enhanced (提高型) teams, hospital
specialists (000 二(一); 003 成都).
"""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass, field

from . import catalog as c
from .names import COMMUNITY_WORDS, DISTRICT_CODE, TOWNSHIPS
from .naming import given_name, surname

HOUSEHOLDS_PER_TEAM = 1000  # "about 1,000 households" (002 二(一)); contracts stay under 1,500
MIN_INSTITUTIONS = 3
TEAMS_PER_INSTITUTION = 4
# household size → weight (2–5 people, as the brief's family structures)
HOUSEHOLD_SIZES = ((2, 38), (3, 32), (4, 20), (5, 10))


@dataclass(slots=True)
class Staff:
    """One practitioner with the PractitionerRole at their organisation."""

    id: str
    family: str
    given: str
    gender: str
    role: str  # team-role code, or the hospital department for hospital doctors
    organization: str  # Organization id
    card: str | None = None  # SID/doctor-card number for primary-care staff

    @property
    def role_id(self) -> str:
        return "role-" + self.id[5:]


@dataclass(slots=True)
class Institution:
    """A 社区卫生服务中心 (urban) or 乡镇卫生院 (rural) and its 村卫生室."""

    index: int
    id: str
    name: str
    urban: bool
    township: str
    villages: list[tuple[str, str]] = field(default_factory=list)  # (village clinic org id, village name)


@dataclass(slots=True)
class Team:
    """A family-doctor team: its institution, type and members (lead first)."""

    index: int
    id: str
    institution: Institution
    type: str
    members: list[tuple[Staff, str]]  # (staff, team-role code)
    neighbourhoods: list[tuple[str, str, str | None]]  # (3-digit code, name, village clinic id)

    @property
    def lead(self) -> Staff:
        return self.members[0][0]


@dataclass(slots=True)
class Layout:
    """The whole plan of a district."""

    household_sizes: array
    institutions: list[Institution]
    teams: list[Team]
    hospital_staff: dict[tuple[str, str], list[Staff]]  # (hospital id, dept code) → doctors

    def team_of(self, household: int) -> Team:
        return self.teams[household * len(self.teams) // len(self.household_sizes)]


def plan_households(rng: random.Random, residents: int) -> array:
    """Household sizes (2–5) adding up to exactly ``residents`` (a lone resident lives alone)."""
    sizes, left = array("B"), residents
    cum = [0]
    for _, w in HOUSEHOLD_SIZES:
        cum.append(cum[-1] + w)
    while left > 0:
        r = rng.random() * cum[-1]
        size = next(s for (s, _), hi in zip(HOUSEHOLD_SIZES, cum[1:], strict=True) if r < hi)
        size = min(size, left)
        if left - size == 1:
            size = size + 1 if size < 5 else size - 1
        sizes.append(size)
        left -= size
    return sizes


def _township(i: int) -> tuple[str, bool]:
    if i < len(TOWNSHIPS):
        return TOWNSHIPS[i]
    urban = i % 3 != 2
    lap, k = divmod(i - len(TOWNSHIPS), len(COMMUNITY_WORDS))
    prefix = "新东西南北上下中"[lap % 8] + (str(lap // 8 + 1) if lap >= 8 else "")
    return f"{prefix}{COMMUNITY_WORDS[k]}{'街道' if urban else '镇'}", urban


class _StaffMaker:
    """Numbers practitioners in the order they are made: prac-00001, prac-00002..."""

    def __init__(self, rng: random.Random):
        self.rng, self.count = rng, 0

    def __call__(self, role: str, org: str, card: bool = True) -> Staff:
        self.count += 1
        rng, n = self.rng, self.count
        sex = "female" if rng.random() < (0.85 if role == "nurse" else 0.45) else "male"
        number = f"YS{DISTRICT_CODE}{n:08d}" if card else None
        return Staff(f"prac-{n:05d}", surname(rng), given_name(rng, sex), sex, role, org, number)


def plan_institutions(n_teams: int) -> list[Institution]:
    """Primary-care institutions: about four teams each, at least three."""
    n = max(MIN_INSTITUTIONS, math.ceil(n_teams / TEAMS_PER_INSTITUTION))
    result = []
    for i in range(n):
        township, urban = _township(i)
        kind = "社区卫生服务中心" if urban else "卫生院"
        result.append(Institution(i, f"org-phc-{i + 1:03d}", f"宁和区{township}{kind}", urban, township))
    return result


def plan_hospital_staff(make: _StaffMaker, residents: int) -> dict[tuple[str, str], list[Staff]]:
    """Doctors of each hospital department: one, plus one per 50,000 residents (at most six)."""
    per_dept = min(6, 1 + residents // 50_000)
    staff = {}
    for hosp_id, _name, _level, _combo, depts in c.HOSPITALS:
        for code, _dept_name in depts:
            org = f"{hosp_id}-{code}"
            staff[(hosp_id, code)] = [make(code, org, card=False) for _ in range(per_dept)]
    return staff


def _team_type(rng: random.Random) -> str:
    r = rng.random()
    return "basic" if r < 0.3 else "standard" if r < 0.75 else "enhanced"


def _members(make: _StaffMaker, rng: random.Random, inst: Institution, team_type: str,
             villages: list[str], specialists: list[Staff]) -> list[tuple[Staff, str]]:
    members = [(make("family-doctor", inst.id), "family-doctor")]
    if rng.random() < 0.3:
        members.append((make("tcm-practitioner", inst.id), "tcm-practitioner"))
    members += [(make("nurse", inst.id), "nurse") for _ in range(2 if rng.random() < 0.4 else 1)]
    members.append((make("public-health-physician", inst.id), "public-health-physician"))
    members += [(make("village-doctor", v), "village-doctor") for v in villages]
    if team_type != "basic":
        extra = "health-manager" if rng.random() < 0.6 else "pharmacist"
        members.append((make(extra, inst.id), extra))
    if team_type == "enhanced":
        members.append((specialists[int(rng.random() * len(specialists))], "specialist"))
    return members


def plan_teams(rng: random.Random, make: _StaffMaker, institutions: list[Institution], n_teams: int,
               specialists: list[Staff]) -> list[Team]:
    """Teams spread over the institutions in contiguous runs; each serves two neighbourhoods
    (居委会 001–099 in towns, 村 101–199 in the country, each village with its 村卫生室)."""
    teams: list[Team] = []
    for t in range(n_teams):
        inst = institutions[t * len(institutions) // n_teams]
        local = sum(1 for team in teams if team.institution is inst)
        neighbourhoods: list[tuple[str, str, str | None]] = []
        village_orgs: list[str] = []
        for k in range(2):
            number = 2 * local + k + 1
            word = COMMUNITY_WORDS[(inst.index * 5 + number) % len(COMMUNITY_WORDS)]
            if inst.urban:
                neighbourhoods.append((f"{number:03d}", f"{word}社区", None))
                continue
            org = f"{inst.id}-v{number:02d}"
            inst.villages.append((org, f"{word}村"))
            village_orgs.append(org)
            neighbourhoods.append((f"{100 + number:03d}", f"{word}村", org))
        team_type = _team_type(rng)
        members = _members(make, rng, inst, team_type, village_orgs, specialists)
        teams.append(Team(t, f"team-{t + 1:04d}", inst, team_type, members, neighbourhoods))
    return teams


def plan_district(seed: int, residents: int) -> Layout:
    """The layout of a district of ``residents`` people (deterministic in ``seed``)."""
    sizes = plan_households(random.Random(seed * 7 + 1), residents)
    n_teams = max(MIN_INSTITUTIONS, math.ceil(len(sizes) / HOUSEHOLDS_PER_TEAM))
    institutions = plan_institutions(n_teams)
    rng = random.Random(seed * 7 + 2)
    make = _StaffMaker(rng)
    hospital = plan_hospital_staff(make, residents)
    specialists = [s for (_, dept), docs in hospital.items() if dept in ("cardio", "endo") for s in docs]
    teams = plan_teams(rng, make, institutions, n_teams, specialists)
    return Layout(sizes, institutions, teams, hospital)
