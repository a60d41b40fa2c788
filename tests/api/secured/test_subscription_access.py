"""A subscription sees only what its owner may read (SPEC §6): a doctor's subscription to every
Observation is notified of their own residents' only."""

from __future__ import annotations

from auth_support import built_access_world
from subscription_receiver import Receiver


def observation(patient: str, marker: str) -> dict:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": marker},
            "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
            "effectiveDateTime": "2026-12-01T08:00:00+08:00"}


def test_notifications_stay_within_the_owner_reach(app, issuer):
    world = built_access_world(app, issuer)
    client, notifier = app.test_client(), app.extensions["jiayi.subscriptions"]
    scope, claims = world.principals()["doctor A"]
    doctor = issuer.headers(scope, **claims)
    system = issuer.headers("system/*.cruds")
    with Receiver() as receiver:
        body = {"resourceType": "Subscription", "status": "requested", "reason": "my residents",
                "criteria": "Observation?code=http://loinc.org|8867-4",
                "channel": {"type": "rest-hook", "endpoint": receiver.url, "payload": "application/fhir+json"}}
        created = client.post("/fhir/Subscription", json=body, headers=doctor)
        assert created.status_code == 201, created.get_json()
        notifier.delivery.run_once()
        sub_id = created.get_json()["id"]
        assert client.get(f"/fhir/Subscription/{sub_id}", headers=system).get_json()["status"] == "active"
        mine = client.post("/fhir/Observation", json=observation(world.head, "mine"), headers=system).get_json()
        client.post("/fhir/Observation", json=observation(world.b1, "not mine"), headers=system)
        notifier.delivery.run_once()
        assert [e.resource["id"] for e in receiver.events()] == [mine["id"]]
        client.delete(f"/fhir/Subscription/{sub_id}", headers=system)
