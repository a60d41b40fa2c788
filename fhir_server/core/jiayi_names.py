"""The fixed names of SPEC Appendix A that code depends on: canonical bases, extension URLs,
code systems and identifier systems.  Shared by the demo generator and the domain rules, so
a name is spelled once."""

from __future__ import annotations

BASE = "https://jiayi.dev/fhir/"
SD = BASE + "StructureDefinition/"
CS = BASE + "CodeSystem/"
SID = BASE + "sid/"

# identifier systems (Appendix A "Identifier systems")
ID_CARD = "urn:oid:2.16.156.10011.1.3"
ID_CARD_ALIAS = "urn:oid:2.16.840.1.113883.2.23.1.19.1"  # HL7 China, accepted as an alias
HEALTH_RECORD = "urn:oid:2.16.156.10011.1.2"
HEALTH_CARD = "urn:oid:2.16.156.10011.1.19"
SOCIAL_SECURITY = "urn:oid:2.16.840.1.113883.2.23.1.19.2"
E_HEALTH_CARD = SID + "e-health-card"
DOCTOR_CARD = SID + "doctor-card"
CONTRACT_NUMBER = SID + "contract-number"
USCC = SID + "uscc"
TWO_CARD_EVENT = SID + "two-card-event"  # Encounter.identifier of a $record-service event

# card-type code → the identifier systems a card of that type is looked up in (first: preferred)
CARD_SYSTEMS: dict[str, tuple[str, ...]] = {
    "resident-id-card": (ID_CARD, ID_CARD_ALIAS),
    "social-security-card": (SOCIAL_SECURITY,),
    "health-card": (HEALTH_CARD,),
    "e-health-card": (E_HEALTH_CARD,),
}

# extensions (SD/<id>)
TEAM_CAPACITY = SD + "jiayi-team-capacity"
TEAM_LEAD = SD + "jiayi-team-lead"
HOUSEHOLD_HEAD = SD + "jiayi-household-head"
CONTRACT_HOUSEHOLD = SD + "jiayi-contract-household"
CONTRACT_CARE_TEAM = SD + "jiayi-contract-care-team"
COMBINATION_HOSPITAL = SD + "jiayi-combination-hospital"
AUTO_RENEW = SD + "jiayi-auto-renew"
SIGNING_CHANNEL = SD + "jiayi-signing-channel"
RENEWS = SD + "jiayi-renews"
ANNUAL_PRICE = SD + "jiayi-annual-price"
CONTRACT_EXT = SD + "jiayi-contract"
SERVICE_ITEM_EXT = SD + "jiayi-service-item"
CARD_EXT = SD + "jiayi-card"

# code systems (CS/<id>)
CONTRACT_TYPE = CS + "contract-type"
CARE_TEAM_CATEGORY = CS + "care-team-category"
TEAM_ROLE = CS + "team-role"
SERVICE_ITEM = CS + "service-item"
TERMINATION_REASON = CS + "termination-reason"
CARD_TYPE = CS + "card-type"
PAYER_TYPE = CS + "payer-type"
FOLLOW_UP_METHOD = CS + "follow-up-method"
BUSINESS_RULE = CS + "business-rule"  # the rule an OperationOutcome issue names (Jiayi addition)
DERIVED_BY = CS + "derived-by"  # meta.tag of a resource the server wrote on its own: the rule or operation

FAMILY_DOCTOR_ROLES = frozenset({"family-doctor", "village-doctor"})
TERMINATION_REASONS = ("resident-request", "relocation", "death", "team-change", "other")
