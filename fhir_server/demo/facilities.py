"""The district's organisations and staff as FHIR: Organization, Practitioner, PractitionerRole.

Organisations: the district health commission (also the basic public-health fund), the
medical-insurance bureau and the finance bureau (the payers of contract fees), the
district (二级) and city (三级) hospitals with departments, the 社区卫生服务中心 / 乡镇卫生院
and their 村卫生室.  Every organisation has a GB 32100 统一社会信用代码 (SID/uscc).
"""

from __future__ import annotations

from collections.abc import Iterator

from fhir_server.core.national_ids import make_uscc

from . import catalog as c
from .build import concept, ext, jiayi, ref
from .layout import Layout, Staff
from .names import CITY, DISTRICT, DISTRICT_CODE, PHONE_PREFIX, STATE
from .naming import human_name

HEALTH_COMMISSION, MEDICAL_INSURANCE, FINANCE = "org-nhc", "org-mi", "org-fin"
PUBLIC_LEAD_DAYS = 7  # days before a slot starts that the public may book it
PAYER_ORG = {"medical-insurance": MEDICAL_INSURANCE, "public-health-fund": HEALTH_COMMISSION,
             "finance": FINANCE}
_ORG_TYPE_DISPLAY = {"govt": "Government", "prov": "Healthcare Provider", "dept": "Hospital Department",
                     "pay": "Payer"}


def _address(line: str) -> dict:
    return {"use": "work", "type": "physical", "text": f"{STATE}{CITY}{DISTRICT}{line}", "line": [line],
            "city": CITY, "district": DISTRICT, "state": STATE, "country": "CN"}


def organization(oid: str, name: str, kind: str, text: str, uscc: str | None,
                 part_of: str | None = None, extra_type: dict | None = None, line: str | None = None) -> dict:
    """One Organization; ``uscc`` is the 17-character stem (the check character is added)."""
    types = [concept(c.ORG_TYPE, kind, _ORG_TYPE_DISPLAY[kind], text)]
    if extra_type:
        types.append(extra_type)
    org: dict = {"resourceType": "Organization", "id": oid}
    if uscc:
        org["identifier"] = [{"use": "official", "system": c.USCC, "value": make_uscc(uscc)}]
    org.update(active=True, type=types, name=name)
    if line:
        org["address"] = [_address(line)]
    if part_of:
        org["partOf"] = ref("Organization", part_of)
    return org


def _payer(code: str) -> dict:
    return {"coding": [jiayi("payer-type", code, c.PAYERS[code])], "text": c.PAYERS[code]}


def organizations(layout: Layout) -> Iterator[dict]:
    """Every Organization of the district, parents before children."""
    d = DISTRICT_CODE
    yield organization(HEALTH_COMMISSION, f"{DISTRICT}卫生健康委员会", "govt", "卫生健康行政部门",
                       f"11{d}MB0000001", extra_type=_payer("public-health-fund"), line="人民路1号")
    yield organization(MEDICAL_INSURANCE, f"{DISTRICT}医疗保障局", "pay", "医疗保障部门",
                       f"11{d}MB0000002", extra_type=_payer("medical-insurance"), line="人民路3号")
    yield organization(FINANCE, f"{DISTRICT}财政局", "govt", "财政部门", f"11{d}MB0000003",
                       extra_type=_payer("finance"), line="人民路5号")
    for n, (hid, name, level, _combo, depts) in enumerate(c.HOSPITALS):
        hospital = organization(hid, name, "prov", level, f"12{d}MB00001{n}{n}", HEALTH_COMMISSION,
                                line=f"健康路{88 + n * 100}号")
        # public booking opens a week ahead (family-doctor slots earlier: see scheduling)
        yield {"resourceType": "Organization", "id": hid,
               "extension": [ext("jiayi-public-booking-lead-days", "Integer", PUBLIC_LEAD_DAYS)], **hospital}
        for code, dept in depts:
            yield organization(f"{hid}-{code}", f"{name}{dept}", "dept", dept, None, hid)
    for inst in layout.institutions:
        kind = "社区卫生服务中心" if inst.urban else "乡镇卫生院"
        yield organization(inst.id, inst.name, "prov", kind, f"12{d}MB1{inst.index:06d}",
                           HEALTH_COMMISSION, line=f"{inst.township}健康路{inst.index + 1}号")
        for v, (vid, village) in enumerate(inst.villages):
            yield organization(vid, f"{inst.township}{village}卫生室", "prov", "村卫生室",
                               f"52{d}MB2{inst.index:04d}{v:02d}", inst.id, line=f"{inst.township}{village}")


def practitioner(staff: Staff) -> dict:
    """A Practitioner; primary-care staff carry their 家庭医生卡 (SID/doctor-card)."""
    p: dict = {"resourceType": "Practitioner", "id": staff.id}
    if staff.card:
        p["identifier"] = [{"use": "official", "system": c.DOCTOR_CARD, "value": staff.card}]
    n = int(staff.id[5:])
    p.update(active=True, name=[human_name(staff.family, staff.given)],
             telecom=[{"system": "phone", "value": f"{PHONE_PREFIX}9{n:07d}", "use": "work"}],
             gender=staff.gender)
    return p


def practitioner_role(staff: Staff) -> dict:
    """The PractitionerRole of one staff member at their organisation."""
    role = {"resourceType": "PractitionerRole", "id": staff.role_id, "active": True,
            "practitioner": ref("Practitioner", staff.id, staff.family + staff.given),
            "organization": ref("Organization", staff.organization)}
    if staff.role in c.TEAM_ROLES:
        role["code"] = [{"coding": [jiayi("team-role", staff.role, c.TEAM_ROLES[staff.role])],
                         "text": c.TEAM_ROLES[staff.role]}]
    else:
        role["code"] = [{"text": "专科医生"}]
        role["specialty"] = [{"text": _department_name(staff)}]
    return role


def _department_name(staff: Staff) -> str:
    for hid, _name, _level, _combo, depts in c.HOSPITALS:
        for code, dept in depts:
            if staff.organization == f"{hid}-{code}":
                return dept
    return staff.role


def all_staff(layout: Layout) -> list[Staff]:
    """Every practitioner once, in id order."""
    seen: dict[str, Staff] = {}
    for docs in layout.hospital_staff.values():
        for s in docs:
            seen[s.id] = s
    for team in layout.teams:
        for s, _role in team.members:
            seen[s.id] = s
    return sorted(seen.values(), key=lambda s: s.id)


def staff_resources(layout: Layout) -> Iterator[dict]:
    """Practitioners, then their PractitionerRoles."""
    staff = all_staff(layout)
    yield from (practitioner(s) for s in staff)
    yield from (practitioner_role(s) for s in staff)
