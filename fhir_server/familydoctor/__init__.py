"""The family-doctor domain (SPEC §4): contract, team, two-card, referral and care-plan rules that
run inside the write transaction, and the domain operations.

Each domain module contributes its write hooks and its operations here; ``create_app`` wires
them into the repository and the operation registry, so a rule holds whichever way data enters
(REST writes, transactions, operations, adapters).
"""

from __future__ import annotations

from fhir_server.familydoctor import contract_rules, operations_contract
from fhir_server.operations.registry import Operation
from fhir_server.repository.base import WriteHook


def write_hooks() -> list[WriteHook]:
    """The domain rules, run by the repository inside every write transaction."""
    hooks: list[WriteHook] = []
    hooks += [contract_rules.check_contract_write, contract_rules.check_team_write]
    return hooks


def operations() -> list[Operation]:
    """The domain operations of Appendix A."""
    ops: list[Operation] = []
    ops += operations_contract.OPERATIONS
    return ops
