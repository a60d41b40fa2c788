"""Patient and household Group resources (jiayi-patient, jiayi-household).

Identifiers: 居民身份证号 (GB 11643, valid check character, birth date and sex digits
matching the Patient; synthetic area codes 99xxxx), 17-digit 健康档案编号 (county +
township + neighbourhood + serial, 服务规范 §1.1), and a 社会保障卡 number for most.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fhir_server.core.national_ids import make_id

from . import catalog as c
from .build import concept, ext, jiayi, ref
from .layout import Team
from .names import CITY, DISTRICT, DISTRICT_CODE, PHONE_PREFIX, POSTAL_PREFIX, STATE, STREETS
from .naming import human_name
from .residents import Person, ethnicity

_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
_MARITAL_TEXT = {"M": "已婚", "S": "未婚", "W": "丧偶"}


@dataclass(slots=True)
class Home:
    """Where a household lives and how it is registered."""

    team: Team
    neighbourhood: tuple[str, str, str | None]  # (3-digit code, name, village clinic id)
    line: str
    registered: bool
    ethnicity: tuple[str, str]


def make_home(rng: random.Random, team: Team, neighbourhood: tuple, household: int) -> Home:
    """A street address in town, or a group and house number in a village."""
    _code, name, village = neighbourhood
    township = team.institution.township
    if village is None:
        street = STREETS[(household // 40) % len(STREETS)]
        line = (f"{township}{name}{street}{household % 97 + 1}号{int(rng.random() * 12) + 1}栋"
                f"{int(rng.random() * 3) + 1}单元{int(rng.random() * 18) + 1}{int(rng.random() * 4) + 1:02d}室")
    else:
        line = f"{township}{name}{int(rng.random() * 9) + 1}组{household % 199 + 1}号"
    return Home(team, neighbourhood, line, rng.random() < 0.85, ethnicity(rng))


def national_id(person: Person) -> str:
    """A GB 11643 number unique in the district: the resident number picks the area code
    (99CCDD) and sequence, so two residents never share area + birth date + sequence."""
    rest, seq = divmod(person.index, 500)
    area = f"99{rest // 99 % 99 + 1:02d}{(rest + 1) % 99 + 1:02d}"
    return make_id(area, person.born, seq, person.sex)


def _marital(person: Person, roles: str) -> str:
    if person.role in "HS" and "S" in roles:
        return "M"
    if person.role == "P" or (person.role == "H" and person.age >= 60):
        return "W"
    return "S"


def patient(person: Person, home: Home, serial: int, roles: str, gp: str | None, seed: int) -> dict:
    """The Patient resource of one resident; ``serial`` numbers the 健康档案 in the neighbourhood."""
    inst = home.team.institution
    extension = [
        ext("jiayi-ethnicity", "CodeableConcept", concept(c.GB3304, *home.ethnicity)),
        ext("jiayi-household-registration", "CodeableConcept",
            concept(c.HOUSEHOLD_REGISTRATION, *(("1", "户籍") if home.registered else ("2", "非户籍")))),
    ]
    extension += [ext("jiayi-key-population", "CodeableConcept",
                      {"coding": [jiayi("key-population", k, c.KEY_POPULATIONS[k])], "text": c.KEY_POPULATIONS[k]})
                  for k in person.key]
    record = f"{DISTRICT_CODE}{inst.index + 1:03d}{home.neighbourhood[0]}{serial:05d}"
    identifiers = [{"use": "official", "system": c.ID_CARD, "value": national_id(person)},
                   {"use": "usual", "system": c.HEALTH_RECORD, "value": record}]
    if (person.index * 37 + seed) % 10:  # nine in ten hold a 社会保障卡
        identifiers.append({"use": "secondary", "system": c.SOCIAL_SECURITY, "value": f"J{person.index + 1:08d}"})
    res = {"resourceType": "Patient", "id": person.id, "extension": extension, "identifier": identifiers,
           "active": True, "name": [human_name(person.family, person.given)]}
    if person.age >= 14:
        number = (person.index * 7919 + seed * 104729) % 100_000_000
        res["telecom"] = [{"system": "phone", "value": f"{PHONE_PREFIX}{number:08d}", "use": "mobile"}]
    marital = _marital(person, roles)
    res.update(gender=person.sex, birthDate=person.born.isoformat(), address=[_address(home)],
               maritalStatus=concept(_MARITAL, marital, None, _MARITAL_TEXT[marital]))
    if gp:
        res["generalPractitioner"] = [ref("Practitioner", gp)]
    res["managingOrganization"] = ref("Organization", inst.id, inst.name)
    return res


def _address(home: Home) -> dict:
    return {"use": "home", "type": "physical", "text": f"{STATE}{CITY}{DISTRICT}{home.line}",
            "line": [home.line], "city": CITY, "district": DISTRICT, "state": STATE,
            "postalCode": f"{POSTAL_PREFIX}{home.team.institution.index % 100:02d}", "country": "CN"}


def household_group(hid: str, people: list[Person], home: Home) -> dict:
    """The household as a Group; the head (户主) is the one member flagged jiayi-household-head."""
    members: list[dict] = [{"entity": ref("Patient", p.id, p.name)} for p in people]
    members[0] = {"extension": [ext("jiayi-household-head", "Boolean", True)], **members[0]}
    return {"resourceType": "Group", "id": hid, "active": True, "type": "person", "actual": True,
            "name": f"{people[0].name}户", "quantity": len(people),
            "managingEntity": ref("Organization", home.team.institution.id),
            "member": members}
