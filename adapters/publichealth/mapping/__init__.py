"""Legacy records ↔ FHIR, driven by the form tables (mappings/publichealth/<type>.csv).

One module per form, both directions (``resident``, ``contract``, ``team``, ``follow_up``,
``referral``), on the generic target kinds of :mod:`.common`.  ``units(record_type, rows)``
makes the :class:`Unit` of each business object — the entries of a transaction bundle for a
resident, a contract with its package lines, a team with its members, a visit with its
Observations, a referral with its Task; the ``read_*`` functions read the same fields back
(export).
"""

from __future__ import annotations

from .common import (
    CONTRACT_NUMBER,
    DOCTOR_CARD,
    HEALTH_RECORD,
    HOUSEHOLD,
    ID_CARD,
    REFERRAL_NUMBER,
    RELATIONSHIP,
    RESIDENT_FORM,
    TEAM_CODE,
    USCC,
    Unit,
    apply_fields,
    ident_value,
    stamp,
    stored_hash,
)
from .contract import contract, read_contract
from .follow_up import DERIVED_TAG, DOCTOR_FROM_CONTRACT, VISIT_SYSTEMS, follow_up, read_follow_up
from .referral import read_referral, referral
from .resident import household, read_resident, resident
from .team import read_team, team

__all__ = [
    "CONTRACT_NUMBER",
    "DERIVED_TAG",
    "DOCTOR_CARD",
    "DOCTOR_FROM_CONTRACT",
    "GROUP_KEYS",
    "HEALTH_RECORD",
    "HOUSEHOLD",
    "ID_CARD",
    "REFERRAL_NUMBER",
    "RELATIONSHIP",
    "RESIDENT_FORM",
    "TEAM_CODE",
    "USCC",
    "VISIT_SYSTEMS",
    "Unit",
    "apply_fields",
    "contract",
    "disagreements",
    "follow_up",
    "household",
    "ident_value",
    "read_contract",
    "read_follow_up",
    "read_referral",
    "read_resident",
    "read_team",
    "referral",
    "resident",
    "stored_hash",
    "team",
    "units",
]

BUILDERS = {
    "resident": resident, "contract": contract, "team": team, "referral": referral,
    "hypertension-follow-up": lambda rows, recs: follow_up("hypertension-follow-up", rows, recs),
    "diabetes-follow-up": lambda rows, recs: follow_up("diabetes-follow-up", rows, recs),
}
GROUP_KEYS = {"contract": "contract_no", "team": "team_code"}  # several rows make one resource
# the fields that may differ between the rows of one resource (the others must agree)
ROW_FIELDS = {"contract": {"id_number", "name", "package", "insurance", "public_health", "finance", "self_pay"},
              "team": {"member_card", "member_name", "member_sex", "role", "lead", "member_phone"}}


def disagreements(record_type: str, records: list[dict]) -> list[tuple[str, object, object]]:
    """(field key, first row's value, this row's value) where the rows of one resource disagree."""
    per_row = ROW_FIELDS[record_type] | {"edition"}
    first = records[0]
    out = []
    for record in records[1:]:
        for key in (set(first) | set(record)) - per_row - {"_original"}:
            if first.get(key) != record.get(key):
                out.append((key, first.get(key), record.get(key)))
    return out


def units(record_type: str, rows: list[tuple[int, dict]]) -> list[Unit]:
    """The units of a batch of good (row, record) pairs, grouping the multi-row forms."""
    key = GROUP_KEYS.get(record_type)
    if key is None:
        return [stamp(BUILDERS[record_type]([row], [rec])) for row, rec in rows]
    grouped: dict[str, list[tuple[int, dict]]] = {}
    for row, rec in rows:
        grouped.setdefault(rec[key], []).append((row, rec))
    return [stamp(BUILDERS[record_type]([r for r, _ in items], [x for _, x in items])) for items in grouped.values()]

