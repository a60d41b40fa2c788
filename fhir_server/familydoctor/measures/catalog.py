"""The Jiayi measures (SPEC §1 考核): one row per assessment indicator, made into R4 Measure
resources.  The row is the definition a reviewer reads; :mod:`.indicators` holds the logic the
row names, and :mod:`.report` turns the counted members into a MeasureReport.
"""

from __future__ import annotations

from dataclasses import dataclass

MEASURE_BASE = "https://jiayi.dev/fhir/Measure/"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
LANGUAGE = "application/x-fhir-query"  # the base population; the indicator itself is named in Expression.name
BASE = {  # indicator → the FHIR query that selects what it counts (before the indicator's own tests)
    "coverage": "Patient?active=true", "key-population-coverage": "Patient?active=true",
    "renewal-rate": "Contract?type=https://jiayi.dev/fhir/CodeSystem/contract-type|family-doctor",
    "fulfilment-rate": "Contract?type=https://jiayi.dev/fhir/CodeSystem/contract-type|family-doctor&status=executed",
    "follow-up-rate": "Patient?_has:Contract:subject:status=executed",
    "chronic-follow-up-rate": "Patient?_has:Contract:subject:status=executed",
    "upward-referrals": "ServiceRequest?category=http://snomed.info/sct|3457005",
    "downward-referrals": "ServiceRequest?category=http://snomed.info/sct|3457005",
    "return-rate": "ServiceRequest?category=http://snomed.info/sct|3457005",
    "satisfaction": "QuestionnaireResponse?status=completed",
    "paid-contract-share": "Contract?type=https://jiayi.dev/fhir/CodeSystem/contract-type|family-doctor&status=executed",
    "long-term-prescriptions": "Patient?_has:Contract:subject:status=executed",
    "team-load": "CareTeam?category=https://jiayi.dev/fhir/CodeSystem/care-team-category|family-doctor-team",
}
STRATIFIERS = (  # code, Chinese name, meaning, the FHIRPath on the contract or resident it reads
    ("institution", "机构", ("Primary-care institution of the contract in force, else the resident's managing "
     "organisation"), "Contract.authority.reference | Patient.managingOrganization.reference"),
    ("team", "团队", "Family-doctor team of the contract in force ('none' for residents without one)",
     "Contract.extension('https://jiayi.dev/fhir/StructureDefinition/jiayi-contract-care-team').value.reference"),
    ("key-population", "重点人群", "Key population of the resident (a resident counts in each of theirs)",
     "Patient.extension('https://jiayi.dev/fhir/StructureDefinition/jiayi-key-population').value.coding.code"))


@dataclass(frozen=True, slots=True)
class MeasureRow:
    indicator: str
    title: str  # Chinese, as the assessment documents name it
    title_en: str
    scoring: str  # proportion | ratio | cohort
    counts: str  # what is counted, in words
    target: float | None = None
    source: str = ""
    improvement: str = "increase"

    @property
    def id(self) -> str:
        return f"jiayi-{self.indicator}"

    @property
    def url(self) -> str:
        return MEASURE_BASE + self.id


MEASURES = (
    MeasureRow("coverage", "家庭医生签约服务覆盖率", "Family-doctor contract coverage", "proportion",
               "residents with a contract in force at the end of the period / residents (active Patients, or "
               "the residentPopulation parameter)", 0.75, "000 一(二); 001 二(二)"),
    MeasureRow("key-population-coverage", "重点人群签约服务覆盖率", "Key-population contract coverage", "proportion",
               "key-population residents with a contract in force / key-population residents", 0.85, "000 一(二)"),
    MeasureRow("renewal-rate", "续签率", "Renewal rate", "proportion",
               "contracts whose term ended in the period with a successor contract / contracts whose term ended",
               None, "000 五(七)"),
    MeasureRow("fulfilment-rate", "履约率", "Service fulfilment rate", "proportion",
               "package services delivered (capped at what was due) / services due, contracts in force",
               None, "000 五(三)"),
    MeasureRow("follow-up-rate", "签约居民年度随访率", "Signed residents followed up", "proportion",
               "signed residents with at least one follow-up or contracted service in the period / signed residents",
               1.0, "000 四(一)"),
    MeasureRow("chronic-follow-up-rate", "高血压、2型糖尿病规范管理率", "Chronic-disease standard follow-up",
               "proportion", "signed hypertension / type-2 diabetes residents with ≥4 follow-ups a year / those "
               "residents", None, "000 三(二)"),
    MeasureRow("upward-referrals", "上转人次", "Upward referrals", "cohort",
               "upward referrals made in the period", None, "000 五(五)"),
    MeasureRow("downward-referrals", "下转人次", "Downward referrals", "cohort",
               "downward referrals made in the period", None, "000 五(五)"),
    MeasureRow("return-rate", "回转率", "Return rate", "proportion",
               "upward referrals of the period answered by a downward referral / upward referrals", None,
               "000 五(七)"),
    MeasureRow("satisfaction", "签约居民满意度", "Satisfaction of signed residents", "proportion",
               "completed satisfaction surveys (Questionnaire/jiayi-satisfaction) whose overall answer is 满意 or "
               "基本满意 / completed surveys", 0.85,
               "000 五(七); 003"),
    MeasureRow("paid-contract-share", "有偿签约占比", "Share of paid contracts", "proportion",
               "contracts in force with a paid package / contracts in force", None, "003 大丰"),
    MeasureRow("long-term-prescriptions", "长期处方使用率", "Long-term prescriptions", "proportion",
               "signed hypertension / diabetes residents with a long-term prescription (28–84 days) in the "
               "period / those residents", None, "000 三(三)"),
    MeasureRow("team-load", "团队签约负荷", "Team load against capacity", "ratio",
               "households under contracts in force / the team's capacity in households (default 1,500)", None,
               "002 二(一)", "decrease"),
)
BY_ID = {row.id: row for row in MEASURES}
BY_URL = {row.url: row for row in MEASURES}


def populations(scoring: str) -> tuple[str, ...]:
    if scoring == "cohort":
        return ("initial-population",)
    return ("initial-population", "denominator", "numerator")


def measure_resource(row: MeasureRow, date: str = "2026-12-01") -> dict:
    """The R4 Measure for ``row``."""
    target = f" Target: {row.target:.0%}." if row.target is not None else ""
    group = {
        "code": {"text": row.title},
        "description": row.counts,
        "population": [{"code": {"coding": [{"system": POPULATION, "code": code}]},
                        "criteria": {"name": f"{row.indicator}-{code}", "language": LANGUAGE,
                                     "expression": BASE[row.indicator],
                                     "description": f"{code} of the Jiayi indicator '{row.indicator}': {row.counts}"}}
                       for code in populations(row.scoring)],
        "stratifier": [{"code": {"text": code}, "description": f"{zh}: {en}",
                        "criteria": {"name": code, "language": "text/fhirpath", "expression": path,
                                     "description": en}} for code, zh, en, path in STRATIFIERS],
    }
    return {
        "resourceType": "Measure", "id": row.id, "url": row.url, "version": "0.1.0",
        "name": "".join(part.capitalize() for part in row.indicator.split("-")),
        "title": f"{row.title} ({row.title_en})", "status": "active", "experimental": False, "date": date,
        "publisher": "Jiayi", "description": f"{row.title_en}: {row.counts}.{target}",
        "purpose": f"SPEC §1 assessment indicator (seed {row.source})." if row.source else "SPEC §1 assessment.",
        "scoring": {"coding": [{"system": SCORING, "code": row.scoring}]},
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": row.improvement}]},
        "guidance": (f"Evaluated by Jiayi's $evaluate-measure (indicator '{row.indicator}'); the period is "
                     "periodStart..periodEnd, 'in force' means on periodEnd.{target}").replace("{target}", target),
        "group": [group],
    }


def all_measures(date: str = "2026-12-01") -> list[dict]:
    return [measure_resource(row, date) for row in MEASURES]
