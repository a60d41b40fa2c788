"""Family-doctor teams (CareTeam) and service packages (PlanDefinition) of the demo district.

A team (jiayi-family-doctor-team): category care-team-category|family-doctor-team, type
basic/standard/enhanced, capacity 1,500 households, the managing 基层医疗卫生机构, and
participants with team-role codes, exactly one of them — a family doctor — flagged as lead.
A package (jiayi-service-package): tier, annual price in CNY, and one action per service
item with its yearly frequency (``timingTiming.repeat`` frequency per 1 a).
"""

from __future__ import annotations

from collections.abc import Iterator

from . import catalog as c
from .build import ext, jiayi, money, ref
from .care_plans import package_url
from .layout import Layout, Team

TEAM_CAPACITY = 1500


def care_team(team: Team, as_of_year: int) -> dict:
    """The CareTeam of one family-doctor team."""
    lead = team.lead
    participants = []
    for staff, role in team.members:
        p = {"role": [{"coding": [jiayi("team-role", role, c.TEAM_ROLES[role])], "text": c.TEAM_ROLES[role]}],
             "member": ref("Practitioner", staff.id, staff.family + staff.given),
             "onBehalfOf": ref("Organization", staff.organization)}
        if staff is lead:
            p = {"extension": [ext("jiayi-team-lead", "Boolean", True)], **p}
        participants.append(p)
    return {
        "resourceType": "CareTeam", "id": team.id,
        "extension": [
            ext("jiayi-team-type", "CodeableConcept",
                {"coding": [jiayi("team-type", team.type, c.TEAM_TYPES[team.type])], "text": c.TEAM_TYPES[team.type]}),
            ext("jiayi-team-capacity", "PositiveInt", TEAM_CAPACITY),
        ],
        "status": "active",
        "category": [{"coding": [jiayi("care-team-category", "family-doctor-team", "家庭医生团队")],
                      "text": "家庭医生团队"}],
        "name": f"{team.institution.name}{lead.family}{lead.given}家庭医生团队",
        "period": {"start": f"{as_of_year - 2 - team.index % 3}-01-01"},
        "participant": participants,
        "managingOrganization": [ref("Organization", team.institution.id, team.institution.name)],
    }


def care_teams(layout: Layout, as_of_year: int) -> Iterator[dict]:
    """Every team's CareTeam."""
    return (care_team(team, as_of_year) for team in layout.teams)


def _action(code: str, per_year: int) -> dict:
    name = c.SERVICE_ITEMS[code]
    return {"title": name,
            "code": [{"coding": [jiayi("service-item", code, name)], "text": name}],
            "timingTiming": {"repeat": {"frequency": per_year, "period": 1, "periodUnit": "a"}}}


def plan_definition(package: tuple, as_of_year: int) -> dict:
    """One service package as a PlanDefinition."""
    pid, title, tier, price, split, items = package
    shares = "，".join(f"{c.PAYERS[p]}{v}元" for p, v in split.items())
    return {
        "resourceType": "PlanDefinition", "id": pid,
        "extension": [ext("jiayi-package-tier", "Coding", jiayi("package-tier", tier, c.PACKAGE_TIERS[tier])),
                      ext("jiayi-annual-price", "Money", money(price))],
        "url": package_url(pid),
        "name": pid.replace("-", "_").upper(),
        "title": title,
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                             "code": "clinical-protocol", "display": "Clinical Protocol"}]},
        "status": "active",
        "date": f"{as_of_year - 3}-01-01",
        "publisher": "宁和区卫生健康委员会",
        "description": f"{title}：每人每年{price}元（{shares}）。",
        "effectivePeriod": {"start": f"{as_of_year - 3}-01-01"},
        "action": [_action(code, n) for code, n in items.items()],
    }


def plan_definitions(as_of_year: int) -> Iterator[dict]:
    """Every service package."""
    return (plan_definition(p, as_of_year) for p in c.PACKAGES)
