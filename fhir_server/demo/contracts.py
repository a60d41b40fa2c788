"""Family-doctor contracts (jiayi-contract) for one household.

Rules followed (SPEC §1, §4; checked on write by ``familydoctor.rules.contract``): at most
one executed contract per resident; terms of 1–3 years, paid packages on the natural year;
household signing by the head or a member representing the household, covering every
member of the household; signers the resident (or guardian / representative) and the
team's lead family doctor; the fee of each package split among the payers with ``net``
adding up to the package price times the people it covers; "1+1+1" district and city
hospitals; auto-renew mostly on.  Key populations sign more often than others.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from . import catalog as c
from .build import add_years, concept, ext, instant, jiayi, money, ref
from .facilities import PAYER_ORG
from .patients import Home
from .residents import Person

PACKAGES = {p[0]: p for p in c.PACKAGES}
HOUSEHOLD_SHARE = 0.5  # households signing as a household; in the others, members sign alone or not
_SIG = c.SIGNATURE_TYPE
_COMBINATION = [(combo, hid) for hid, _n, _l, combo, _d in c.HOSPITALS]


@dataclass(slots=True)
class Signing:
    """A contract decided for some members of a household, before it becomes FHIR."""

    id: str
    covered: list[Person]
    signer: Person
    household: bool
    status: str
    start: dt.date
    end: dt.date
    issued: dt.date
    packages: dict[str, list[Person]]
    reason: str | None = None


def _packages(rng: random.Random, people: list[Person]) -> dict[str, list[Person]]:
    chosen: dict[str, list[Person]] = {"pkg-basic": list(people)}
    for p in people:
        key, picks = p.key, []
        if "hypertension" in key and rng.random() < 0.35:
            picks.append("pkg-hypertension")
        if "diabetes-t2" in key and rng.random() < 0.35:
            picks.append("pkg-diabetes")
        if "elderly-65" in key and not picks and rng.random() < 0.2:
            picks.append("pkg-elderly")
        if ("pregnant-postpartum" in key or "child-0-6" in key) and rng.random() < 0.3:
            picks.append("pkg-maternal-child")
        if "disabled" in key and rng.random() < 0.5:
            picks.append("pkg-disabled")
        if not key and p.age >= 18:
            r = rng.random()
            picks += ["pkg-primary"] if r < 0.05 else ["pkg-intermediate"] if r < 0.08 else \
                ["pkg-advanced"] if r < 0.09 else []
        for pid in picks:
            chosen.setdefault(pid, []).append(p)
    return chosen


def _term(rng: random.Random, status: str, paid: bool, as_of: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(start, end, issued) of a contract; a terminated one ends on its termination date."""
    r = rng.random()
    years = 1 if paid or r < 0.55 else 2 if r < 0.65 else 3
    if status == "offered":
        start = as_of + dt.timedelta(days=1 + int(rng.random() * 14))
        return start, add_years(start, years) - dt.timedelta(days=1), as_of - dt.timedelta(days=int(rng.random() * 14))
    if status == "terminated":
        start = as_of - dt.timedelta(days=90 + int(rng.random() * 900))
        planned = add_years(start, years) - dt.timedelta(days=1)
        last = min(planned, as_of - dt.timedelta(days=1))
        end = start + dt.timedelta(days=30 + int(rng.random() * max(1, (last - start).days - 30)))
        return start, min(end, last), start - dt.timedelta(days=int(rng.random() * 10))
    if paid:
        start, end = dt.date(as_of.year, 1, 1), dt.date(as_of.year, 12, 31)
    else:
        end = as_of + dt.timedelta(days=1 + int(rng.random() * years * 365))
        start = add_years(end, -years) + dt.timedelta(days=1)
    return start, end, start - dt.timedelta(days=int(rng.random() * 10))


def decide(rng: random.Random, people: list[Person], household: int, as_of: dt.date) -> list[Signing]:
    """Who signs, alone or as a household, with which packages and in which state."""
    if len(people) > 1 and rng.random() < HOUSEHOLD_SHARE:
        groups = [list(people)]  # a household contract covers every member of the household
    else:
        groups = [[p] for p in people if rng.random() < (0.8 if p.key else 0.4)]
    result = []
    for k, covered in enumerate(groups):
        r = rng.random()
        status = "executed" if r < 0.88 else "offered" if r < 0.93 else "terminated"
        packages = _packages(rng, covered)
        paid = any("self-pay" in PACKAGES[pid][4] for pid in packages)  # paid packages: natural year
        start, end, issued = _term(rng, status, paid, as_of)
        if covered[0].age >= 18 or len(covered) > 1:
            signer = next((p for p in covered if p.role == "H"), next((p for p in covered if p.age >= 18), covered[0]))
        else:
            signer = people[0]  # a child's guardian: the head of household
        reason = None
        if status == "terminated":
            reason = ("resident-request", "relocation", "team-change", "other")[int(rng.random() ** 1.5 * 4)]
        result.append(Signing(f"ctr-{household:06d}-{k}", covered, signer, len(covered) > 1, status,
                              start, end, issued, packages, reason))
    return result


def _channel(rng: random.Random, s: Signing) -> str:
    if all("child-0-6" in p.key or "pregnant-postpartum" in p.key for p in s.covered) and rng.random() < 0.5:
        return "maternal-child-handbook"
    if any("elderly-65" in p.key for p in s.covered) and rng.random() < 0.3:
        return "home-visit"
    r = rng.random()
    if r < 0.15:
        return "online"
    if r < 0.2 and not s.household and 20 <= s.covered[0].age <= 60:
        return "functional-community"
    return "in-person"


def _valued_items(package: tuple, people: list[Person], signer: Person, institution: str) -> list[dict]:
    n, items = len(people), []
    for payer, share in package[4].items():
        who = ref("Patient", signer.id) if payer == "self-pay" else ref("Organization", PAYER_ORG[payer])
        items.append({"quantity": {"value": n}, "unitPrice": money(share), "net": money(share * n),
                      "responsible": who, "recipient": ref("Organization", institution)})
    return items


def _terms(s: Signing, institution: str) -> list[dict]:
    terms = []
    for pid, people in s.packages.items():
        package = PACKAGES[pid]
        terms.append({"topicReference": ref("PlanDefinition", pid, package[1]), "text": package[1],
                      "offer": {"party": [{"reference": [ref("Patient", p.id) for p in people],
                                          "role": {"text": "服务对象"}}],
                                "text": f"{package[1]}，每人每年{package[3]}元"},
                      "asset": [{"valuedItem": _valued_items(package, people, s.signer, institution)}]})
    return terms


def _signer(kind: str, who: dict, day: dt.date, minutes: int, sig: str, sig_name: str) -> dict:
    return {"type": {"system": c.SIGNER_TYPE, "code": kind}, "party": who,
            "signature": [{"type": [{"system": _SIG, "code": sig, "display": sig_name}],
                           "when": instant(day, minutes), "who": who}]}


def contract(rng: random.Random, s: Signing, home: Home, group_id: str) -> dict:
    """The Contract resource of one signing."""
    team, inst = home.team, home.team.institution
    extension = [ext("jiayi-contract-household", "Reference", ref("Group", group_id))] if s.household else []
    extension.append(ext("jiayi-contract-care-team", "Reference", ref("CareTeam", team.id)))
    extension += [{"url": c.SD + "jiayi-combination-hospital",
                   "extension": [{"url": "level", "valueCode": level},
                                 {"url": "organization", "valueReference": ref("Organization", hid)}]}
                  for level, hid in _COMBINATION]
    extension.append(ext("jiayi-auto-renew", "Boolean", rng.random() < 0.9))
    channel = _channel(rng, s)
    extension.append(ext("jiayi-signing-channel", "Coding",
                         jiayi("signing-channel", channel, c.SIGNING_CHANNELS[channel])))
    minutes = 8 * 60 + int(rng.random() * 540)
    resident_kind = "PAT" if s.signer in s.covered else "GUARD"
    signers = [_signer(resident_kind, ref("Patient", s.signer.id, s.signer.name), s.issued, minutes,
                       "1.2.840.10065.1.12.1.7", "Consent Signature")]
    if s.status != "offered":  # an application waits for the team to confirm it
        lead = team.lead
        signers.append(_signer("HPROV", ref("Practitioner", lead.id, lead.family + lead.given), s.issued,
                               minutes + 5, "1.2.840.10065.1.12.1.1", "Author's Signature"))
    res = {"resourceType": "Contract", "id": s.id, "extension": extension,
           "identifier": [{"system": c.CONTRACT_NUMBER,
                           "value": f"QY{inst.index + 1:03d}{s.start.year}{s.id[4:10]}{s.id[-1]}"}],
           "status": s.status, "issued": instant(s.issued, minutes),
           "applies": {"start": s.start.isoformat(), "end": s.end.isoformat()}}
    if s.reason:
        res["expirationType"] = concept(c.CS + "termination-reason", s.reason, c.TERMINATION_REASONS[s.reason])
    res.update(subject=[ref("Patient", p.id, p.name) for p in s.covered],
               authority=[ref("Organization", inst.id, inst.name)],
               type=concept(c.CS + "contract-type", "family-doctor", "家庭医生签约服务"),
               signer=signers, term=_terms(s, inst.id))
    return res
