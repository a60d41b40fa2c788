"""No input makes a domain operation fail with a 500: random Parameters (wrong types, empty,
odd values) against each contract and two-card operation on the memory twin give 4xx or a
success, never an unhandled error (TESTING propagates exceptions)."""

from __future__ import annotations

import random

from contract_data import post, world

from fhir_server.app import create_app
from fhir_server.repository.memory import MemoryRepository

VALUES = [None, "", "x", 0, -5, 4, 2.5, True, [], {}, {"reference": "Patient/x"}, {"reference": 3}, "2026-02-30",
          "2026-01-01", "2026-05-06T09:30:00+08:00", "health-education", "resident-id-card", "a,b|c", "9" * 300]
KINDS = ["valueString", "valueCode", "valueDate", "valueInteger", "valueReference", "valueDecimal", "valueDateTime"]
RECORD = ["eventId", "residentCardType", "residentCardNumber", "doctorCardNumber", "time", "item", "latitude",
          "longitude", "terminal"]


def test_random_operation_inputs_never_give_500():
    client = create_app({"TESTING": True}, repository=MemoryRepository()).test_client()
    w = world(client, "fuzz")
    cid = post(client, "Contract", w.contract()).get_json()["id"]
    operations = {f"Contract/{cid}/$terminate": ["reason", "date", "requestedBy"],
                  f"Contract/{cid}/$renew": ["years", "package", "careTeam"],
                  "Contract/$renew-due": ["asOf", "windowDays"],
                  f"Contract/{cid}/$fulfilment": ["asOf"], f"Patient/{w.head}/$family-doctor": ["asOf"],
                  "Encounter/$record-service": RECORD}
    rng = random.Random(20261201)
    statuses = set()
    for _ in range(400):
        url = rng.choice(list(operations))
        given = [{"name": name, rng.choice(KINDS): v} for name in operations[url]
                 if rng.random() < 0.7 and (v := rng.choice(VALUES)) is not None]
        response = post(client, url, {"resourceType": "Parameters", "parameter": given})
        assert response.status_code < 500, (url, given, response.get_data(as_text=True))
        statuses.add(response.status_code)
    assert {400, 422} <= statuses
