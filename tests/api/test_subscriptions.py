"""R4 Subscriptions through the API (SPEC §4 "Subscriptions"), on SQLite and PostgreSQL: the
delivery worker's turns are run by the test (``run_once``), the subscriber is a real HTTP
endpoint on loopback."""

from __future__ import annotations

import pytest
from subscription_receiver import Receiver

FHIR_JSON = "application/fhir+json"


def subscription(endpoint: str, criteria: str, payload: str | None = FHIR_JSON, **channel) -> dict:
    return {"resourceType": "Subscription", "status": "requested", "reason": "referrals to our hospital",
            "criteria": criteria,
            "channel": {"type": "rest-hook", "endpoint": endpoint, **({"payload": payload} if payload else {}),
                        **channel}}


def task(owner: str, status: str = "requested") -> dict:
    return {"resourceType": "Task", "status": status, "intent": "order", "owner": {"reference": owner}}


@pytest.fixture()
def notifier(app):
    return app.extensions["jiayi.subscriptions"]


@pytest.fixture()
def receiver():
    with Receiver() as receiver:
        yield receiver


def active_subscription(client, notifier, body: dict) -> dict:
    created = client.post("/fhir/Subscription", json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["status"] == "requested"
    notifier.delivery.run_once()  # the handshake
    current = client.get(f"/fhir/Subscription/{created.get_json()['id']}").get_json()
    assert current["status"] == "active", current
    return current


def test_referral_task_notifies_the_hospital(client, notifier, receiver, unique):
    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(
        receiver.url, f"Task?owner={org}&status=requested", header=["Authorization: Bearer hospital-secret"]))
    assert client.post("/fhir/Task", json=task(f"Organization/other-{unique}")).status_code == 201
    created = client.post("/fhir/Task", json=task(org)).get_json()
    assert notifier.delivery.run_once() >= 1
    events = receiver.wait_for(1)
    assert [e.resource["id"] for e in events] == [created["id"]]
    assert events[0].headers["Authorization"] == "Bearer hospital-secret"
    assert events[0].headers["Content-Type"] == FHIR_JSON
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_empty_payload_posts_without_body_in_order(client, notifier, receiver, unique):
    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(receiver.url, f"Task?owner={org}", payload=None))
    handshakes = len(receiver.received)
    for status in ("requested", "accepted", "in-progress"):
        client.post("/fhir/Task", json=task(org, status))
    notifier.delivery.run_once()
    arrived = receiver.received[handshakes:]
    assert len(arrived) == 3 and all(r.body == b"" for r in arrived)
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_backport_full_resource_bundle(client, notifier, receiver, unique):
    org = f"Organization/{unique}"
    backport = {"extension": [{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                               "backport-payload-content", "valueCode": "full-resource"}]}
    body = subscription(receiver.url, f"Task?owner={org}", _payload=backport)
    sub = active_subscription(client, notifier, body)
    handshake = receiver.events()[-1].resource
    assert handshake["entry"][0]["resource"]["parameter"][3]["valueCode"] == "handshake"
    created = client.post("/fhir/Task", json=task(org)).get_json()
    notifier.delivery.run_once()
    bundle = receiver.events()[-1].resource
    assert bundle["type"] == "history"
    assert bundle["entry"][1]["resource"]["id"] == created["id"]
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_failed_deliveries_are_retried_then_error(client, notifier, receiver, unique, monkeypatch):
    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(receiver.url, f"Task?owner={org}"))
    receiver.refusing = True
    first = client.post("/fhir/Task", json=task(org)).get_json()
    second = client.post("/fhir/Task", json=task(org)).get_json()
    assert notifier.delivery.run_once() == 0  # refused: postponed, nothing lost
    receiver.refusing = False
    assert notifier.delivery.run_once() == 0  # not due yet (back-off)
    delivery = notifier.delivery
    monkeypatch.setattr(delivery, "clock", lambda: _later(seconds=5))
    assert delivery.run_once() == 2
    assert [e.resource["id"] for e in receiver.events()] == [first["id"], second["id"]]
    receiver.refusing = True
    client.post("/fhir/Task", json=task(org))
    delivery.run_once()  # first failure at +5 s
    monkeypatch.setattr(delivery, "clock", lambda: _later(hours=25))
    delivery.run_once()  # past the 24 hours: error
    current = client.get(f"/fhir/Subscription/{sub['id']}").get_json()
    assert current["status"] == "error" and "could not be delivered" in current["error"]
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_handshake_failure_is_error(client, notifier, unique):
    created = client.post("/fhir/Subscription", json=subscription("http://127.0.0.1:9/nowhere", "Task")).get_json()
    notifier.delivery.run_once()
    current = client.get(f"/fhir/Subscription/{created['id']}").get_json()
    assert current["status"] == "error" and "Handshake" in current["error"]
    client.delete(f"/fhir/Subscription/{created['id']}")


@pytest.mark.parametrize(("criteria", "channel"), [
    ("Task?no-such-param=1", {"type": "rest-hook", "endpoint": "http://127.0.0.1:1/"}),
    ("NotAType?x=1", {"type": "rest-hook", "endpoint": "http://127.0.0.1:1/"}),
    ("Task", {"type": "email", "endpoint": "mailto:a@b.c"}),
    ("Task", {"type": "rest-hook", "endpoint": "ftp://example.org/"}),
    ("Task", {"type": "rest-hook", "endpoint": "http://127.0.0.1:1/", "payload": "text/csv"}),
])
def test_unsupported_subscriptions_are_422(client, criteria, channel):
    body = {"resourceType": "Subscription", "status": "requested", "reason": "x", "criteria": criteria,
            "channel": channel}
    response = client.post("/fhir/Subscription", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_client_cannot_activate_itself(client, unique):
    body = {**subscription("http://127.0.0.1:1/", "Task"), "status": "active"}
    created = client.post("/fhir/Subscription", json=body).get_json()
    assert created["status"] == "requested"
    client.delete(f"/fhir/Subscription/{created['id']}")


def _later(**delta):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(**delta)


def test_chained_criteria_run_in_sql(client, notifier, receiver, unique):
    female = client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "female",
                                                "name": [{"family": unique}]}).get_json()
    male = client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male",
                                              "name": [{"family": unique}]}).get_json()
    sub = active_subscription(client, notifier, subscription(
        receiver.url, f"Observation?subject:Patient.family={unique}&subject:Patient.gender=female"))
    for patient in (male, female):
        client.post("/fhir/Observation", json={"resourceType": "Observation", "status": "final",
                                               "code": {"text": "pulse"},
                                               "subject": {"reference": f"Patient/{patient['id']}"}})
    notifier.delivery.run_once()
    assert [e.resource["subject"]["reference"] for e in receiver.events()] == [f"Patient/{female['id']}"]
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_a_write_rolled_back_notifies_no_one(client, notifier, receiver, unique):
    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(receiver.url, f"Task?owner={org}"))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": task(org), "request": {"method": "POST", "url": "Task"}},
        {"resource": {"resourceType": "Patient", "gender": "not-a-gender"},
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    assert client.post("/fhir", json=bundle).status_code >= 400
    notifier.delivery.run_once()
    assert receiver.events() == []
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_off_stops_and_requested_again_resumes(client, notifier, receiver, unique):
    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(receiver.url, f"Task?owner={org}"))
    receiver.refusing = True
    kept = client.post("/fhir/Task", json=task(org)).get_json()
    notifier.delivery.run_once()  # refused: kept in the outbox
    client.put(f"/fhir/Subscription/{sub['id']}", json={**sub, "status": "off"})
    client.post("/fhir/Task", json=task(org))  # while off: not a notification
    receiver.refusing = False
    notifier.delivery.run_once()
    assert receiver.events() == []
    current = client.get(f"/fhir/Subscription/{sub['id']}").get_json()
    client.put(f"/fhir/Subscription/{sub['id']}", json={**current, "status": "requested"})
    notifier.delivery.run_once()  # handshake, active, the kept one due at once
    notifier.delivery.run_once()
    assert [e.resource["id"] for e in receiver.events()] == [kept["id"]]
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_deleting_a_subscription_drops_what_waits(app, client, notifier, receiver, unique):
    from fhir_server.storage import outbox

    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(receiver.url, f"Task?owner={org}"))
    receiver.refusing = True
    client.post("/fhir/Task", json=task(org))
    notifier.delivery.run_once()
    database = app.extensions["jiayi.database"]
    with database.session() as session:
        assert outbox.pending(session, sub["id"]) == 1
    assert client.delete(f"/fhir/Subscription/{sub['id']}").status_code in (200, 204)
    with database.session() as session:
        assert outbox.pending(session, sub["id"]) == 0 and outbox.owner_of(session, sub["id"]) is None


def test_two_workers_deliver_each_notification_once_in_order(app, client, notifier, receiver, unique):
    """Two delivery workers on one database (as two serving processes): the lease per
    subscription keeps each notification single and the order intact."""
    import threading

    from fhir_server.subscriptions import Delivery

    org = f"Organization/{unique}"
    sub = active_subscription(client, notifier, subscription(receiver.url, f"Task?owner={org}"))
    sent = [client.post("/fhir/Task", json=task(org)).get_json()["id"] for _ in range(12)]
    other = Delivery(app.extensions["jiayi.repository"])
    workers = [threading.Thread(target=lambda d=d: [d.run_once() for _ in range(5)])
               for d in (notifier.delivery, other)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [e.resource["id"] for e in receiver.events()] == sent
    client.delete(f"/fhir/Subscription/{sub['id']}")


def test_the_capability_statement_names_the_websocket_channel(client):
    rest = client.get("/fhir/metadata").get_json()["rest"][0]
    assert {"url": "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket",
            "valueUri": "ws://testserver/ws/subscriptions"} in rest.get("extension", [])


def test_a_subscription_past_its_end_notifies_no_more(client, notifier, receiver, unique):
    """R4 Subscription.end: the time for the server to turn the subscription off."""
    org = f"Organization/{unique}"
    body = {**subscription(receiver.url, f"Task?owner={org}&status=requested"), "end": "2001-01-01T00:00:00Z"}
    sub = active_subscription(client, notifier, body)
    handshakes = len(receiver.events())
    client.post("/fhir/Task", json=task(org))
    notifier.delivery.run_once()
    assert len(receiver.events()) == handshakes
    client.delete(f"/fhir/Subscription/{sub['id']}")
