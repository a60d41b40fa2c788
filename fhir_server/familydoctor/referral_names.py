"""The fixed names (SPEC Appendix A) the referral, slot and care-plan rules read and write,
plus the few this area adds (recorded in docs/decisions.md).  Data only."""

SD = "https://jiayi.dev/fhir/StructureDefinition/"
CS = "https://jiayi.dev/fhir/CodeSystem/"
SID = "https://jiayi.dev/fhir/sid/"

# profiles
REFERRAL = SD + "jiayi-referral"
REFERRAL_TASK = SD + "jiayi-referral-task"
HEALTH_PLAN = SD + "jiayi-health-management-plan"
FOLLOW_UP = SD + "jiayi-follow-up"
SERVICE_PACKAGE = SD + "jiayi-service-package"

# extensions (Appendix A)
DIRECTION = SD + "jiayi-referral-direction"
GREEN_CHANNEL = SD + "jiayi-green-channel"
CONTRACT_EXT = SD + "jiayi-contract"
CARE_TEAM_EXT = SD + "jiayi-contract-care-team"
COMBINATION = SD + "jiayi-combination-hospital"
TEAM_LEAD = SD + "jiayi-team-lead"
KEY_POPULATION = SD + "jiayi-key-population"
SERVICE_ITEM_EXT = SD + "jiayi-service-item"
RESERVED = SD + "jiayi-reserved-for-family-doctors"
FAMILY_DOCTOR_OPEN = SD + "jiayi-family-doctor-open-time"
# extensions this area adds (Organization): a partner hospital (医联体), the public booking lead time
PARTNER_HOSPITAL = SD + "jiayi-partner-hospital"
PUBLIC_LEAD_DAYS = SD + "jiayi-public-booking-lead-days"
DEFAULT_PUBLIC_LEAD_DAYS = 7

# code systems (Appendix A) and the ones this area adds
DIRECTION_CS = CS + "referral-direction"
FOLLOW_UP_METHOD = CS + "follow-up-method"
CLASSIFICATION = CS + "follow-up-classification"
SERVICE_ITEM = CS + "service-item"
TEAM_ROLE = CS + "team-role"
KEY_POPULATION_CS = CS + "key-population"
PLAN_CATEGORY = CS + "care-plan-category"  # added: the plan categories of SPEC §3
TASK_OUTPUT = CS + "referral-task-output"  # added: return-referral | appointment
PROPOSAL_ID = SID + "referral-proposal"  # added: the visit a rule-raised proposal comes from

SNOMED = "http://snomed.info/sct"
REFERRAL_CATEGORY = {"system": SNOMED, "code": "3457005", "display": "Patient referral"}
FAMILY_DOCTOR_ROLES = frozenset({"family-doctor", "village-doctor"})
ANNUAL_FOLLOW_UP = "annual-follow-up"  # added to CS/service-item: 年度随访 (every signed resident)
FOLLOW_UP_ITEMS = frozenset({"hypertension-follow-up", "diabetes-follow-up", "severe-mental-follow-up",
                             "tb-follow-up", ANNUAL_FOLLOW_UP})
