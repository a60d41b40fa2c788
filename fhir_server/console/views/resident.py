"""The resident view (居民主页): one resident as the signed-in user may read them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .common import (
    ID_CARD,
    ID_CARD_ALIAS,
    Source,
    code_display,
    concept_text,
    day,
    display,
    extension,
    human_name,
    mask_id,
    ref,
)

LOINC = "http://loinc.org"
BP_PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
GLUCOSE = "1558-6"
IDENTIFIER_LABELS = {
    ID_CARD: "居民身份证", ID_CARD_ALIAS: "居民身份证",
    "urn:oid:2.16.156.10011.1.2": "健康档案编号", "urn:oid:2.16.156.10011.1.19": "居民健康卡",
    "urn:oid:2.16.840.1.113883.2.23.1.19.2": "社会保障卡", "https://jiayi.dev/fhir/sid/e-health-card": "电子健康卡",
}
GENDER = {"male": "男", "female": "女", "other": "其他", "unknown": "未知"}


@dataclass
class Resident:
    id: str
    name: str
    gender: str
    birth: str
    identifiers: list[tuple[str, str]]
    phone: str
    address: str
    key_populations: list[str]
    contract: dict | None = None  # id, number, status, start, end, packages
    fulfilment: list[dict] = field(default_factory=list)  # item, due, delivered
    team: dict | None = None  # name, members [(role, name)]
    care_plans: list[dict] = field(default_factory=list)
    bp: list[tuple[str, float | None, float | None]] = field(default_factory=list)  # (date, systolic, diastolic)
    glucose: list[tuple[str, float]] = field(default_factory=list)
    referrals: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)


def build(source: Source, patient_id: str, today: dt.date, show_id: bool = False) -> Resident | None:
    patient = source.read(f"Patient/{patient_id}")
    if patient is None:
        return None
    model = Resident(
        id=patient_id, name=human_name(patient), gender=GENDER.get(patient.get("gender", ""), ""),
        birth=patient.get("birthDate", ""), identifiers=identifiers(patient, show_id),
        phone=next((t.get("value", "") for t in patient.get("telecom") or [] if t.get("system") == "phone"), ""),
        address=next((a.get("text") or "".join(a.get("line") or []) for a in patient.get("address") or []), ""),
        key_populations=[concept_text(e.get("valueCodeableConcept")) for e in patient.get("extension") or []
                         if e.get("url", "").endswith("jiayi-key-population")])
    subject = f"Patient/{patient_id}"
    _contract(source, model, subject)
    model.care_plans = [care_plan_summary(p) for p in source.search(f"CarePlan?subject={subject}&_count=20")]
    readings = source.search(f"Observation?subject={subject}&code={LOINC}|{BP_PANEL},{LOINC}|{GLUCOSE}"
                             "&_sort=date&_count=200")
    model.bp = blood_pressure([o for o in readings if _coded(o, BP_PANEL)])
    model.glucose = quantities([o for o in readings if _coded(o, GLUCOSE)])
    model.referrals = referrals(source, subject)
    model.timeline = [encounter_row(e) for e in source.search(f"Encounter?subject={subject}&_sort=-date&_count=30")]
    return model


def _contract(source: Source, model: Resident, subject: str) -> None:
    """The contract in force with its fulfilment and team (the included CareTeam)."""
    found = source.search(f"Contract?subject={subject}&status=executed&_count=5&_include=Contract:care-team")
    contracts = [r for r in found if r.get("resourceType", "Contract") == "Contract"]
    if contracts:
        model.contract = contract_summary(contracts[0])
        model.fulfilment = fulfilment(source, contracts[0]["id"])
        team_ext = extension(contracts[0], "jiayi-contract-care-team")
        team = ref(team_ext.get("valueReference")) if team_ext else None
        teams = {f"CareTeam/{r['id']}": r for r in found if r.get("resourceType") == "CareTeam"}
        model.team = team_summary(teams.get(team or "") or source.read(team))


def _coded(observation: dict, code: str) -> bool:
    return any(c.get("code") == code for c in (observation.get("code") or {}).get("coding") or [])


def identifiers(patient: dict, show: bool) -> list[tuple[str, str]]:
    rows = []
    for identifier in patient.get("identifier") or []:
        value = str(identifier.get("value") or "")
        label = IDENTIFIER_LABELS.get(identifier.get("system", ""), concept_text(identifier.get("type")) or "标识")
        rows.append((label, value if show else mask_id(value)))
    return rows


def contract_summary(contract: dict) -> dict:
    applies = contract.get("applies") or {}
    return {"id": contract["id"], "status": contract.get("status", ""),
            "number": next((i.get("value") for i in contract.get("identifier") or []), ""),
            "start": applies.get("start", ""), "end": applies.get("end", ""),
            "packages": [t.get("text") or display(t.get("topicReference")) for t in contract.get("term") or []],
            "authority": display((contract.get("authority") or [None])[0])}


def fulfilment(source: Source, contract_id: str) -> list[dict]:
    answer = source.read(f"Contract/{contract_id}/$fulfilment")
    rows = []
    for parameter in (answer or {}).get("parameter") or []:
        if parameter.get("name") != "item":
            continue
        parts = {p.get("name"): p for p in parameter.get("part") or []}
        coding = (parts.get("code") or {}).get("valueCoding") or {}
        due = (parts.get("due") or {}).get("valueInteger", 0)
        delivered = (parts.get("delivered") or {}).get("valueInteger", 0)
        rows.append({"item": code_display(source, coding), "due": due, "delivered": delivered,
                     "percent": min(100, round(100 * delivered / due)) if due else 100})
    return rows


def team_summary(team: dict | None) -> dict | None:
    if team is None:
        return None
    members = [(concept_text((p.get("role") or [None])[0]), display(p.get("member")))
               for p in team.get("participant") or []]
    return {"id": team.get("id"), "name": team.get("name", ""), "members": members}


def care_plan_summary(plan: dict) -> dict:
    activities = []
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        period = detail.get("scheduledPeriod") or {}
        activities.append({"what": concept_text(detail.get("code")), "status": detail.get("status", ""),
                           "start": day(period.get("start")), "end": day(period.get("end"))})
    return {"id": plan.get("id"), "title": plan.get("title") or concept_text((plan.get("category") or [None])[0]),
            "status": plan.get("status", ""), "activities": activities}


def blood_pressure(observations: list[dict]) -> list[tuple[str, float | None, float | None]]:
    points = []
    for obs in observations:
        values = {}
        for component in obs.get("component") or []:
            code = next((c.get("code") for c in (component.get("code") or {}).get("coding") or []), None)
            values[code] = (component.get("valueQuantity") or {}).get("value")
        points.append((day(obs.get("effectiveDateTime")), values.get(SYSTOLIC), values.get(DIASTOLIC)))
    return sorted(points)


def quantities(observations: list[dict]) -> list[tuple[str, float]]:
    points = [(day(o.get("effectiveDateTime")), (o.get("valueQuantity") or {}).get("value")) for o in observations]
    return sorted((when, float(value)) for when, value in points if isinstance(value, int | float))


def referrals(source: Source, subject: str) -> list[dict]:
    tasks: dict[str, list[dict]] = {}
    for task in source.search(f"Task?patient={subject}&_count=50"):
        tasks.setdefault(ref(task.get("focus")), []).append(task)
    rows = []
    for referral in source.search(f"ServiceRequest?subject={subject}&_sort=-authored&_count=20"):
        direction = extension(referral, "jiayi-referral-direction")
        history = []
        for task in tasks.get(f"ServiceRequest/{referral['id']}", []):
            versions = source.search(f"Task/{task['id']}/_history?_count=20")
            history += [{"status": v.get("status", ""), "when": (v.get("meta") or {}).get("lastUpdated", "")[:16],
                         "reason": concept_text(v.get("statusReason"))} for v in versions]
        rows.append({"id": referral["id"], "status": referral.get("status", ""), "intent": referral.get("intent", ""),
                     "direction": ((direction or {}).get("valueCoding") or {}).get("display", ""),
                     "what": concept_text(referral.get("code")), "when": day(referral.get("authoredOn")),
                     "performer": display((referral.get("performer") or [None])[0]),
                     "reason": "; ".join(concept_text(r) for r in referral.get("reasonCode") or []),
                     "history": sorted(history, key=lambda h: h["when"])})
    return rows


def encounter_row(encounter: dict) -> dict:
    items = [concept_text(e.get("valueCodeableConcept")) for e in encounter.get("extension") or []
             if e.get("url", "").endswith("jiayi-service-item")]
    start = (encounter.get("period") or {}).get("start") or ""
    return {"id": encounter.get("id"), "when": start[:16].replace("T", " "),
            "what": "、".join(items) or concept_text((encounter.get("type") or [None])[0]),
            "how": concept_text((encounter.get("type") or [None])[0]), "status": encounter.get("status", ""),
            "where": display(encounter.get("serviceProvider"))}


