"""The SMART on FHIR Python client (``fhirclient``, R4 models) against the running server:
the CapabilityStatement parses strictly, and Patient create / read / update / search /
delete behave as the client expects."""

from __future__ import annotations

import pytest
from fhirclient import client
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException

from e2e.conftest import PATIENT_ID_SYSTEM, patient_json

pytestmark = pytest.mark.e2e


@pytest.fixture()
def smart(server) -> client.FHIRClient:
    return client.FHIRClient(settings={"app_id": "jiayi-e2e", "api_base": server})


def _create(smart, unique: str) -> Patient:
    created = Patient(patient_json(unique)).create(smart.server)
    return Patient(created)  # the server's representation (Prefer defaults to return=representation)


def test_capability_statement_parses_with_the_r4_models(smart):
    smart.prepare()
    statement = smart.server.capabilityStatement
    assert statement.fhirVersion == "4.0.1"
    assert "Patient" in {r.type for r in statement.rest[0].resource}
    assert smart.ready


def test_create_and_read_patient(smart, unique):
    created = _create(smart, unique)
    assert created.id and created.meta.versionId == "1"
    read = Patient.read(created.id, smart.server)
    assert read.name[0].text == "王秀英" and read.name[0].given == ["秀英"]
    assert read.identifier[0].system == PATIENT_ID_SYSTEM and read.identifier[0].value == unique
    assert read.birthDate.isostring == "1948-11-02"


def test_update_search_and_delete(smart, unique):
    patient = Patient.read(_create(smart, unique).id, smart.server)
    patient.gender = "unknown"
    assert Patient(patient.update()).meta.versionId == "2"
    search = Patient.where(struct={"identifier": f"{PATIENT_ID_SYSTEM}|{unique}"})
    found = list(search.perform_resources_iter(smart.server))
    assert [(p.id, p.gender) for p in found] == [(patient.id, "unknown")]
    patient.delete()
    with pytest.raises(Exception) as gone:  # fhirclient raises HTTPError for 410
        Patient.read(patient.id, smart.server)
    assert not isinstance(gone.value, FHIRNotFoundException) and gone.value.response.status_code == 410
