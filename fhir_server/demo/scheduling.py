"""Hospital specialist schedules and slots (号源), some reserved for family doctors.

Each hospital doctor has a Schedule for the two weeks after ``as_of`` with six half-hour
morning slots on working days.  Hospitals reserve a share of specialist slots for family
doctors and open them earlier (000 三(五); 003 上海/厦门/杭州): here the district hospital
reserves one slot in six and opens it 14 days ahead, the city hospital two in six, 10 days
ahead; public booking opens 7 days ahead.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

from . import catalog as c
from .build import ext, instant, ref
from .layout import Layout

HORIZON_DAYS = 14
SLOTS_PER_MORNING = 6
RESERVED = {"district": (1, 14), "city": (2, 10)}  # "1+1+1" level → (slots of six, lead days)


def schedule(staff, hospital_name: str, dept: str, start: dt.date) -> dict:
    """The Schedule of one hospital doctor (actor: their PractitionerRole)."""
    end = start + dt.timedelta(days=HORIZON_DAYS - 1)
    return {"resourceType": "Schedule", "id": f"sch-{staff.id[5:]}", "active": True,
            "serviceType": [{"text": f"{dept}专家门诊"}],
            "specialty": [{"text": dept}],
            "actor": [ref("PractitionerRole", staff.role_id, f"{hospital_name}{dept}{staff.family}{staff.given}")],
            "planningHorizon": {"start": instant(start, 0), "end": instant(end, 23 * 60 + 59)},
            "comment": f"{hospital_name}{dept}门诊号源"}


def _slot(sched_id: str, day: dt.date, k: int, reserved: tuple[int, int], busy: bool) -> dict:
    start = 8 * 60 + 30 * k
    slot: dict = {"resourceType": "Slot", "id": f"slot-{sched_id[4:]}-{day:%m%d}-{k}"}
    if k < reserved[0]:
        open_day = day - dt.timedelta(days=reserved[1])
        slot["extension"] = [ext("jiayi-reserved-for-family-doctors", "Boolean", True),
                             ext("jiayi-family-doctor-open-time", "DateTime", instant(open_day, 8 * 60))]
    slot.update(schedule=ref("Schedule", sched_id), status="busy" if busy else "free",
                start=instant(day, start), end=instant(day, start + 30))
    if k < reserved[0]:
        slot["comment"] = "家庭医生转诊预留号源"
    return slot


def schedules_and_slots(layout: Layout, as_of: dt.date, seed: int) -> Iterator[dict]:
    """Every Schedule followed by its Slots."""
    rng = random.Random(seed * 7 + 3)
    start = as_of + dt.timedelta(days=1)
    days = [start + dt.timedelta(days=i) for i in range(HORIZON_DAYS)]
    days = [d for d in days if d.weekday() < 5]
    for hid, hname, _level, combo, depts in c.HOSPITALS:
        names = dict(depts)
        for code, _ in depts:
            for staff in layout.hospital_staff[(hid, code)]:
                sched = schedule(staff, hname, names[code], start)
                yield sched
                for day in days:
                    near = (day - as_of).days <= 7
                    for k in range(SLOTS_PER_MORNING):
                        busy = rng.random() < (0.7 if near else 0.25) * (0.5 if k < RESERVED[combo][0] else 1)
                        yield _slot(sched["id"], day, k, RESERVED[combo], busy)
