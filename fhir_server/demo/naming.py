"""Chinese personal names for synthetic people: surnames by realistic frequency, 1–2 character given names."""

from __future__ import annotations

import bisect
import itertools
import random

from .names import FEMALE_GIVEN, MALE_GIVEN, SURNAMES

_SURNAME_LIST = tuple(s for s, _ in SURNAMES)
_SURNAME_CUM = tuple(itertools.accumulate(w for _, w in SURNAMES))
_SURNAME_TOTAL = _SURNAME_CUM[-1]


def surname(rng: random.Random) -> str:
    """A surname drawn by national frequency."""
    return _SURNAME_LIST[bisect.bisect_right(_SURNAME_CUM, rng.random() * _SURNAME_TOTAL)]


def given_name(rng: random.Random, sex: str) -> str:
    """A given name of one (about a quarter) or two characters suited to ``sex``."""
    pool = MALE_GIVEN if sex == "male" else FEMALE_GIVEN
    n = len(pool)
    first = pool[int(rng.random() * n)]
    if rng.random() < 0.25:
        return first
    return first + pool[int(rng.random() * n)]


def human_name(family: str, given: str) -> dict:
    """A FHIR HumanName written the Chinese way: text = family + given, no space."""
    return {"use": "official", "text": family + given, "family": family, "given": [given]}
