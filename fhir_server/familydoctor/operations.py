"""The contract and two-card operations of Appendix A, declared as data (STYLE habit 6)."""

from __future__ import annotations

from fhir_server.familydoctor.services import family_doctor, fulfilment, lifecycle, two_card
from fhir_server.operations.registry import Operation

OD = "https://jiayi.dev/fhir/OperationDefinition/"

OPERATIONS = [
    Operation("terminate", lifecycle.terminate, OD + "Contract-terminate", instance=True,
              resource_types=("Contract",), affects_state=True),
    Operation("renew", lifecycle.renew, OD + "Contract-renew", instance=True,
              resource_types=("Contract",), affects_state=True),
    Operation("renew-due", lifecycle.renew_due, OD + "Contract-renew-due", type_level=True,
              resource_types=("Contract",), affects_state=True),
    Operation("fulfilment", fulfilment.fulfilment, OD + "Contract-fulfilment", instance=True,
              resource_types=("Contract",)),
    Operation("family-doctor", family_doctor.family_doctor, OD + "Patient-family-doctor", instance=True,
              resource_types=("Patient",)),
    Operation("record-service", two_card.record_service, OD + "Encounter-record-service", type_level=True,
              resource_types=("Encounter",), affects_state=True),
]
