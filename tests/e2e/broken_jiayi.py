"""A Jiayi with one deliberate defect, for the conformance kit's own tests (it must catch it):

    python tests/e2e/broken_jiayi.py DEFECT serve --port P --database URL ...

The defect is patched into the modules before ``jiayi serve`` starts; gunicorn forks its
workers from this process, so they carry it too."""

from __future__ import annotations

import sys


def _no_one_contract_rule() -> None:
    from fhir_server.familydoctor.rules import contract

    contract.one_in_force = lambda *args, **kwargs: []  # a second contract in force is let through


def _no_task_state_machine() -> None:
    from fhir_server.familydoctor.rules import referral_task

    referral_task.allowed = lambda before, after: True  # any referral Task transition is let through


def _no_task_owner_search() -> None:
    from fhir_server.search import registry

    original = registry.ParamRegistry.__init__

    def without_task_owner(self, params, stamp=None) -> None:
        original(self, params, stamp)
        self._by_base.get("Task", {}).pop("owner", None)  # Task?owner= is unknown, and not in /metadata

    registry.ParamRegistry.__init__ = without_task_owner


DEFECTS = {"one-contract-rule": _no_one_contract_rule, "task-state-machine": _no_task_state_machine,
           "task-owner-search": _no_task_owner_search}

if __name__ == "__main__":
    DEFECTS[sys.argv[1]]()
    from fhir_server.cli import main

    sys.argv = ["jiayi", *sys.argv[2:]]
    main()
