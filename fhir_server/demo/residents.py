"""Residents (Patient) in households (Group) with realistic family structures and key populations.

A household is 2–5 people built from a family template (couple, couple with children,
three generations...), so ages, surnames and sexes hang together.  Key populations
(000 四(七)) are assigned at realistic shares: elderly 65+ and children 0–6 by age,
hypertension and type-2 diabetes by age band, and the rarer groups at small rates.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from dataclasses import dataclass, field

from . import catalog as c
from .build import age_on
from .naming import given_name, surname

# size → ((members: H head, S spouse, C child, P parent of head), head age range, weight)
TEMPLATES = {
    1: (("H", 20, 88, 1),),  # only when the district's size leaves one resident over
    2: (("HS", 60, 88, 40), ("HS", 40, 64, 25), ("HS", 23, 38, 15), ("HC", 30, 55, 12), ("HP", 30, 60, 8)),
    3: (("HSC", 26, 50, 60), ("HSC", 50, 70, 20), ("HSP", 30, 60, 10), ("HCP", 30, 55, 10)),
    4: (("HSCC", 28, 50, 55), ("HSCP", 28, 55, 35), ("HSPP", 30, 55, 10)),
    5: (("HSCPP", 28, 50, 50), ("HSCCP", 30, 50, 40), ("HSCCC", 30, 48, 10)),
}
_CUM = {n: list(itertools.accumulate(t[3] for t in ts)) for n, ts in TEMPLATES.items()}
_ETHNIC_CUM = list(itertools.accumulate(w for _, _, w in c.ETHNICITIES))


@dataclass(slots=True)
class Person:
    """One resident before it becomes a Patient."""

    index: int  # global resident number, 0-based
    role: str  # H, S, C or P
    family: str
    given: str
    sex: str
    born: dt.date
    age: int
    key: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"pat-{self.index:07d}"

    @property
    def name(self) -> str:
        return self.family + self.given


def _uniform(rng: random.Random, lo: int, hi: int) -> int:
    return lo + int(rng.random() * (hi - lo + 1))


def _ages(rng: random.Random, roles: str, lo: int, hi: int) -> list[int]:
    head = _uniform(rng, lo, hi)
    ages = []
    for role in roles:
        if role == "H":
            ages.append(head)
        elif role == "S":
            ages.append(max(20, head + _uniform(rng, -5, 3)))
        elif role == "C":
            ages.append(max(0, head - _uniform(rng, 22, 36)))
        else:
            ages.append(min(99, head + _uniform(rng, 22, 34)))
    return ages


def _sexes(rng: random.Random, roles: str) -> list[str]:
    head = "male" if rng.random() < (0.8 if "S" in roles else 0.5) else "female"
    other = "female" if head == "male" else "male"
    parents = ["male", "female"] if roles.count("P") == 2 else ["female" if rng.random() < 0.6 else "male"]
    out = []
    for role in roles:
        if role == "H":
            out.append(head)
        elif role == "S":
            out.append(other)
        elif role == "C":
            out.append("male" if rng.random() < 0.52 else "female")
        else:
            out.append(parents.pop(0))
    return out


def _born(rng: random.Random, age: int, as_of: dt.date) -> dt.date:
    day = as_of - dt.timedelta(days=int(age * 365.25) + _uniform(rng, 1, 364))
    while age_on(day, as_of) > age:
        day += dt.timedelta(days=1)
    return day


def make_household(rng: random.Random, first_index: int, size: int, as_of: dt.date) -> list[Person]:
    """The people of one household, head first."""
    roles, lo, hi, _ = TEMPLATES[size][bisect.bisect_right(_CUM[size], rng.random() * _CUM[size][-1])]
    ages, sexes = _ages(rng, roles, lo, hi), _sexes(rng, roles)
    head_family = surname(rng)
    father = head_family if sexes[0] == "male" else surname(rng)
    people = []
    for k, (role, age, sex) in enumerate(zip(roles, ages, sexes, strict=True)):
        if role == "H" or (role == "P" and sex == "male"):
            family = head_family
        elif role == "C":
            family = father if "S" in roles else head_family
        elif role == "S" and sex == "male":
            family = father
        else:
            family = surname(rng)
        born = _born(rng, age, as_of)
        people.append(Person(first_index + k, role, family, given_name(rng, sex), sex, born, age_on(born, as_of)))
    return people


def _share(table: tuple, age: int) -> float:
    return next((share for lower, share in table if age >= lower), 0.0)


def assign_key_populations(rng: random.Random, people: list[Person], rural: bool) -> None:
    """Key-population codes for each person, in the Appendix A order."""
    poor = rng.random() < (0.05 if rural else 0.005)
    for p in people:
        key, age = p.key, p.age
        if age >= 65:
            key.append("elderly-65")
        if p.sex == "female" and 22 <= age <= 40 and p.role in "HS" and rng.random() < 0.07:
            key.append("pregnant-postpartum")
        if age <= 6:
            key.append("child-0-6")
        if rng.random() < (0.07 if age >= 60 else 0.02):
            key.append("disabled")
        if poor:
            key.append("poverty-alleviated")
        if age >= 49 and p.role in "HSP" and rng.random() < 0.004:
            key.append("family-planning-special")
        if rng.random() < _share(c.HYPERTENSION_BY_AGE, age):
            key.append("hypertension")
        if rng.random() < _share(c.DIABETES_BY_AGE, age):
            key.append("diabetes-t2")
        if rng.random() < 0.0006:
            key.append("tuberculosis")
        if age >= 18 and rng.random() < 0.005:
            key.append("severe-mental-disorder")


def ethnicity(rng: random.Random) -> tuple[str, str]:
    """A GB 3304 (code, name), mostly 01 汉族."""
    code, name, _ = c.ETHNICITIES[bisect.bisect_right(_ETHNIC_CUM, rng.random() * _ETHNIC_CUM[-1])]
    return code, name
