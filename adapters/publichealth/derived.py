"""What the importer derives from the server: the family doctor of a follow-up whose form
left 随访医生 blank.

The resident's contract in force on the visit day names the team; the team's lead doctor is
the visit's participant (``Patient/[id]/$family-doctor?asOf=``, SPEC §4), with the display
of the Practitioner's name, and the Encounter carries the tag ``import-derivation |
participant-from-contract``.  Without a contract in force (or a team without a doctor) the
row is refused as before: 随访医生 is required."""

from __future__ import annotations

from collections.abc import Callable

from ..fhir_client import FhirClient, ServerRefused
from . import mapping

Reject = Callable[[mapping.Unit, str], None]


class FamilyDoctors:
    def __init__(self, client: FhirClient) -> None:
        self.client = client
        self.cache: dict[tuple[str, str], dict | None] = {}

    def fill(self, units: list[mapping.Unit], reject: Reject) -> list[mapping.Unit]:
        """The units with their derived doctors filled in; the ones without a doctor rejected."""
        kept = []
        for unit in units:
            day = unit.extra.get(mapping.DOCTOR_FROM_CONTRACT)
            if not day:
                kept.append(unit)
                continue
            encounter = unit.entries[0].resource
            patient = (encounter.get("subject") or {}).get("reference", "")
            doctor = self.doctor(patient, day) if patient.startswith("Patient/") else None
            if doctor is None:
                reject(unit, f"随访医生 is required: the resident has no family-doctor contract in force on {day} "
                             "whose team has a doctor, so the visit's doctor cannot be taken from it")
                continue
            encounter["participant"][0]["individual"].update(doctor)
            kept.append(unit)
        return kept

    def doctor(self, patient: str, day: str) -> dict | None:
        key = (patient, day)
        if key not in self.cache:
            self.cache[key] = self._ask(patient, day)
        return self.cache[key]

    def _ask(self, patient: str, day: str) -> dict | None:
        try:
            answer = self.client.json("GET", f"{patient}/$family-doctor", params={"asOf": day})
        except ServerRefused as exc:
            if exc.status == 404:
                return None
            raise
        parameters = answer.get("parameter", [])
        reference = next((p.get("valueReference", {}).get("reference") for p in parameters
                          if p.get("name") == "doctor"), None)
        if not reference:
            return None
        doctor: dict = {"reference": reference}
        for p in parameters:
            res = p.get("resource") or {}
            if p.get("name") == "resource" and f"{res.get('resourceType')}/{res.get('id')}" == reference:
                name = (res.get("name") or [{}])[0]
                text = name.get("text") or "".join([name.get("family", ""), *name.get("given", [])])
                if text:
                    doctor["display"] = text
        return doctor
