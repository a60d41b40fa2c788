"""The family-doctor domain's own names: the profiles, extensions and code systems of SPEC
Appendix A that the referral, follow-up, slot and care-plan rules read and write, plus the
few this area adds (recorded in docs/decisions.md).  Data only.

The names the whole server shares (contract, team, card and service-item names) live in
:mod:`fhir_server.core.jiayi_names` and are imported from there under their own names
(``from fhir_server.core import jiayi_names as jn``); this module is ``n`` everywhere.
"""

from fhir_server.core.jiayi_names import CS, SD, SID

# profiles
REFERRAL = SD + "jiayi-referral"
REFERRAL_TASK = SD + "jiayi-referral-task"
HEALTH_PLAN = SD + "jiayi-health-management-plan"
FOLLOW_UP = SD + "jiayi-follow-up"
SERVICE_PACKAGE = SD + "jiayi-service-package"

# extensions (Appendix A)
DIRECTION = SD + "jiayi-referral-direction"
GREEN_CHANNEL = SD + "jiayi-green-channel"
KEY_POPULATION = SD + "jiayi-key-population"
RESERVED = SD + "jiayi-reserved-for-family-doctors"
FAMILY_DOCTOR_OPEN = SD + "jiayi-family-doctor-open-time"
# extensions this area adds (Organization): a partner hospital (医联体), the public booking lead time
PARTNER_HOSPITAL = SD + "jiayi-partner-hospital"
PUBLIC_LEAD_DAYS = SD + "jiayi-public-booking-lead-days"
DEFAULT_PUBLIC_LEAD_DAYS = 7

# code systems (Appendix A) and the ones this area adds
DIRECTION_CS = CS + "referral-direction"
CLASSIFICATION = CS + "follow-up-classification"
KEY_POPULATION_CS = CS + "key-population"
PLAN_CATEGORY = CS + "care-plan-category"  # added: the plan categories of SPEC §3
TASK_OUTPUT = CS + "referral-task-output"  # added: return-referral | appointment
PROPOSAL_ID = SID + "referral-proposal"  # added: the visit a rule-raised proposal comes from

SNOMED = "http://snomed.info/sct"
REFERRAL_CATEGORY = {"system": SNOMED, "code": "3457005", "display": "Patient referral"}
ANNUAL_FOLLOW_UP = "annual-follow-up"  # added to CS/service-item: 年度随访 (every signed resident)
FOLLOW_UP_ITEMS = frozenset({"hypertension-follow-up", "diabetes-follow-up", "severe-mental-follow-up",
                             "tb-follow-up", ANNUAL_FOLLOW_UP})
