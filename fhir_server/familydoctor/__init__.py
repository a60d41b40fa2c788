"""The family-doctor domain (SPEC §4): contract, team, two-card, referral and care-plan rules that
run inside the write transaction, and the domain operations.

Each domain module contributes its write hooks and its operations here; ``create_app`` wires
them into the repository and the operation registry, so a rule holds whichever way data enters
(REST writes, transactions, operations, adapters).
"""

from __future__ import annotations

from fhir_server.operations.registry import Operation
from fhir_server.repository.base import WriteHook

from . import measures
from . import operations as contract_operations
from .rules import contract as contract_rules
from .rules import follow_up as follow_up_rules
from .rules import follow_up_plan as follow_ups
from .rules import referral as referrals
from .rules import referral_task, slots
from .services import booking, care_plans


def write_hooks() -> list[WriteHook]:
    """The domain rules, run by the repository inside every write transaction."""
    return [contract_rules.check_contract_write, contract_rules.check_team_write,
            referrals.check_referral, referral_task.check_task, referrals.check_task_outputs,
            slots.check_appointment, follow_ups.fill_plans, follow_up_rules.apply_rules]


def operations() -> list[Operation]:
    """The domain operations of Appendix A, the measures and the care-plan operations."""
    return [*contract_operations.OPERATIONS, *booking.OPERATIONS, *care_plans.OPERATIONS, *measures.OPERATIONS]
