"""Small builders for FHIR R4 datatypes used by the demo generator (Coding, Reference, Extension...).

Plain dicts on purpose: the generator makes hundreds of thousands of resources, and a
dict literal is the cheapest way to make one.
"""

from __future__ import annotations

import datetime as dt

from . import catalog as c

TZ = "+08:00"


def coding(system: str, code: str, display: str | None = None) -> dict:
    """A Coding (display optional)."""
    if display is None:
        return {"system": system, "code": code}
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    """A CodeableConcept with one Coding and a text (defaults to the display)."""
    cc: dict = {"coding": [coding(system, code, display)]}
    if text or display:
        cc["text"] = text or display
    return cc


def ref(resource_type: str, rid: str, display: str | None = None) -> dict:
    """A relative literal Reference ``Type/id``."""
    if display is None:
        return {"reference": f"{resource_type}/{rid}"}
    return {"reference": f"{resource_type}/{rid}", "display": display}


def ext(name: str, value_type: str, value) -> dict:
    """A Jiayi extension ``SD/<name>`` with ``value<value_type>``."""
    return {"url": c.SD + name, "value" + value_type: value}


def jiayi(cs: str, code: str, display: str | None = None) -> dict:
    """A Coding in a Jiayi code system ``CS/<cs>``."""
    return coding(c.CS + cs, code, display)


def money(value: float) -> dict:
    """Money in CNY."""
    return {"value": value, "currency": "CNY"}


def instant(day: dt.date, minutes: int) -> str:
    """An instant at ``minutes`` after local midnight on ``day`` (China Standard Time)."""
    return f"{day.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}:00{TZ}"


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(born: dt.date, on: dt.date) -> int:
    """Completed years of age on a day."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
