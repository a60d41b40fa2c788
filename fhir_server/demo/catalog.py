"""Fixed names (SPEC Appendix A), service packages, departments and shares of the demo district.

Data only.  The URLs are the fixed Appendix A names; the few code systems Appendix A
does not fix (GB 3304 ethnicity, household registration) are named here once.
"""

from fhir_server.core.jiayi_names import (  # noqa: F401 (re-exported: the demo's one catalogue)
    BASE,
    CONTRACT_NUMBER,
    CS,
    DOCTOR_CARD,
    HEALTH_RECORD,
    ID_CARD,
    SD,
    SID,
    SOCIAL_SECURITY,
    USCC,
)

GB3304 = CS + "gb3304"  # 民族 (GB 3304 numeric codes)
HOUSEHOLD_REGISTRATION = CS + "household-registration"  # 常住类型: 1 户籍, 2 非户籍
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
SIGNER_TYPE = "http://terminology.hl7.org/CodeSystem/contractsignertypecodes"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"

# GB 3304 (code, name, share in ‰); 01 汉族 dominates as in most districts.
ETHNICITIES = (("01", "汉族", 950), ("03", "回族", 12), ("08", "壮族", 10), ("15", "土家族", 8),
               ("05", "维吾尔族", 5), ("04", "藏族", 4), ("06", "苗族", 5), ("02", "蒙古族", 6))

TEAM_ROLES = {
    "family-doctor": "家庭医生", "nurse": "护士", "public-health-physician": "公共卫生医师",
    "specialist": "专科医生", "pharmacist": "药师", "health-manager": "健康管理师",
    "tcm-practitioner": "中医师", "village-doctor": "乡村医生", "assistant": "助理",
    "rehabilitation-therapist": "康复治疗师",
}
TEAM_TYPES = {"basic": "基础型", "standard": "标准型", "enhanced": "提高型"}

SERVICE_ITEMS = {
    "hypertension-follow-up": "高血压患者随访", "diabetes-follow-up": "2型糖尿病患者随访",
    "elderly-health-check": "老年人健康体检", "health-education": "健康教育",
    "health-consultation": "健康咨询", "home-visit": "上门服务", "family-bed": "家庭病床",
    "rehabilitation-guidance": "康复指导", "tcm-health-management": "中医药健康管理",
    "long-term-prescription": "长期处方", "referral-booking": "转诊预约",
    "child-health-check": "儿童健康检查", "maternal-visit": "孕产妇访视",
    "blood-pressure-measurement": "血压测量", "blood-glucose-test": "血糖检测",
    "severe-mental-follow-up": "严重精神障碍患者随访", "tb-follow-up": "肺结核患者随访",
}

PAYERS = {"medical-insurance": "医保基金", "public-health-fund": "基本公共卫生服务经费",
          "finance": "财政补助", "self-pay": "个人自付"}

# Service packages: id, title, tier, price (CNY/year), split by payer, items {code: times/year}.
PACKAGES = (
    ("pkg-basic", "基础签约服务包", "basic", 120,
     {"medical-insurance": 70, "public-health-fund": 30, "finance": 20},
     {"health-education": 2, "health-consultation": 4, "referral-booking": 1, "tcm-health-management": 1}),
    ("pkg-primary", "初级个性化服务包", "paid-primary", 100,
     {"medical-insurance": 40, "self-pay": 60},
     {"health-consultation": 6, "blood-pressure-measurement": 4, "blood-glucose-test": 2}),
    ("pkg-intermediate", "中级个性化服务包", "paid-intermediate", 260,
     {"medical-insurance": 80, "finance": 20, "self-pay": 160},
     {"home-visit": 2, "blood-pressure-measurement": 12, "blood-glucose-test": 4, "referral-booking": 2}),
    ("pkg-advanced", "高级个性化服务包", "paid-advanced", 580,
     {"medical-insurance": 100, "finance": 30, "self-pay": 450},
     {"home-visit": 6, "family-bed": 1, "rehabilitation-guidance": 4, "referral-booking": 4}),
    ("pkg-hypertension", "高血压个性化服务包", "disease-specific", 150,
     {"medical-insurance": 80, "finance": 20, "self-pay": 50},
     {"hypertension-follow-up": 4, "blood-pressure-measurement": 12, "long-term-prescription": 4}),
    ("pkg-diabetes", "2型糖尿病个性化服务包", "disease-specific", 180,
     {"medical-insurance": 90, "finance": 20, "self-pay": 70},
     {"diabetes-follow-up": 4, "blood-glucose-test": 12, "long-term-prescription": 4}),
    ("pkg-elderly", "老年人个性化服务包", "disease-specific", 120,
     {"medical-insurance": 60, "finance": 30, "self-pay": 30},
     {"elderly-health-check": 1, "tcm-health-management": 2, "home-visit": 2}),
    ("pkg-maternal-child", "母婴健康服务包", "disease-specific", 200,
     {"medical-insurance": 50, "finance": 30, "self-pay": 120},
     {"maternal-visit": 5, "child-health-check": 4, "health-consultation": 6}),
    ("pkg-disabled", "残疾人康复服务包", "disease-specific", 100,
     {"finance": 100},
     {"rehabilitation-guidance": 4, "home-visit": 4}),
)
PACKAGE_TIERS = {"basic": "基础包", "paid-primary": "初级包", "paid-intermediate": "中级包",
                 "paid-advanced": "高级包", "disease-specific": "专病包"}

# Hospitals: (id, name, level, "1+1+1" level, departments (code, name, specialty)).
HOSPITALS = (
    ("org-hosp-district", "宁和区人民医院", "二级综合医院", "district",
     (("cardio", "心血管内科"), ("endo", "内分泌科"), ("rehab", "康复医学科"), ("gp", "全科医学科"),
      ("neuro", "神经内科"))),
    ("org-hosp-city", "示范市第一人民医院", "三级甲等综合医院", "city",
     (("cardio", "心血管内科"), ("endo", "内分泌科"), ("neuro", "神经内科"), ("resp", "呼吸与危重症医学科"),
      ("geri", "老年医学科"), ("nephro", "肾内科"))),
)
REFERRAL_DEPARTMENT = {"hypertension": "cardio", "diabetes-t2": "endo", "other": "neuro"}

# Conditions: key-population code → (ICD-10, Chinese display, service item, package id)
CHRONIC = {
    "hypertension": ("I10", "原发性高血压", "hypertension-follow-up", "pkg-hypertension"),
    "diabetes-t2": ("E11", "2型糖尿病", "diabetes-follow-up", "pkg-diabetes"),
}
KEY_POPULATIONS = {
    "elderly-65": "65岁及以上老年人", "pregnant-postpartum": "孕产妇", "child-0-6": "0-6岁儿童",
    "disabled": "残疾人", "poverty-alleviated": "脱贫人口", "family-planning-special": "计划生育特殊家庭",
    "hypertension": "高血压患者", "diabetes-t2": "2型糖尿病患者", "tuberculosis": "肺结核患者",
    "severe-mental-disorder": "严重精神障碍患者",
}
# Prevalence by age band (lower bound of the band → share): hypertension and diabetes.
HYPERTENSION_BY_AGE = ((75, 0.55), (65, 0.45), (55, 0.32), (45, 0.18), (35, 0.08))
DIABETES_BY_AGE = ((65, 0.17), (55, 0.13), (45, 0.08), (35, 0.04))

SIGNING_CHANNELS = {"in-person": "现场签约", "home-visit": "上门签约", "online": "线上签约",
                    "maternal-child-handbook": "母子健康手册视同签约",
                    "functional-community": "功能社区签约"}
TERMINATION_REASONS = {"resident-request": "居民申请解约", "relocation": "迁出辖区",
                       "death": "死亡", "team-change": "更换服务团队", "other": "其他"}
