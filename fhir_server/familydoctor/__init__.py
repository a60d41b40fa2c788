"""The family-doctor domain (SPEC §4): contract, team, two-card, referral and care-plan rules that
run inside the write transaction, and the domain operations.

``install`` puts the rules into the repository's hooks and ``operations`` lists the operations
for the registry (both called by ``create_app``), so a rule holds whichever way data enters
(REST writes, transactions, operations, adapters).  README.md: the layout and the order.
"""

from __future__ import annotations

from fhir_server.operations.registry import Operation
from fhir_server.repository.base import Hooks, WriteHook

from . import measures
from . import operations as domain_operations
from .rules import contract as contract_rules
from .rules import follow_up as follow_up_rules
from .rules import follow_up_plan as follow_ups
from .rules import referral as referrals
from .rules import referral_task, slots


def install(hooks: Hooks) -> None:
    """The domain rules, run by the repository inside every write transaction, in the order of
    the table in README.md: the checks before a version is stored, the derivations after."""
    hooks.before_write.extend(checks())
    hooks.after_write.extend(derivations())


def checks() -> list[WriteHook]:
    """Refuse a write (409/422) or amend the resource before it is stored."""
    return [contract_rules.check_contract_write, contract_rules.count_team_contracts, contract_rules.check_team_write,
            referrals.check_referral,
            referral_task.check_task, referrals.check_task_outputs, slots.check_appointment]


def derivations() -> list[WriteHook]:
    """Write resources of their own (``uow.write_derived``) once the client's write is stored."""
    return [slots.hold_slots, referrals.derive_from_referral, follow_ups.fill_plans, follow_up_rules.apply_rules]


def operations(kept: measures.KeptReports | None = None) -> list[Operation]:
    """The domain operations (operations.py: Appendix A and PlanDefinition/$apply) and the measures
    (with ``kept``, summaries a caller accepts older come from the kept reports)."""
    return [*domain_operations.OPERATIONS, *measures.operations(kept)]
