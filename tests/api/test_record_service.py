"""Two-card service records, ``Encounter/$record-service`` (SPEC §4 两卡制), on SQLite and
PostgreSQL: the record and its Provenance in one transaction, idempotent on the event id,
and every refusal writing nothing."""

from __future__ import annotations

from contract_data import JSON, n, organization, parameters, post, rules, world


def _event(w, event_id: str, **over) -> dict:
    values = {"eventId": ("valueString", event_id), "residentCardType": ("valueCode", "resident-id-card"),
              "residentCardNumber": ("valueString", w.card(w.head)), "doctorCardNumber": ("valueString", w.doctor_card),
              "time": ("valueDateTime", "2026-05-06T09:30:00+08:00"),
              "item": [("valueCode", "health-consultation"), ("valueCode", "health-education")],
              "latitude": ("valueDecimal", 30.27), "longitude": ("valueDecimal", 120.15),
              "terminal": ("valueString", "POS-0001")}
    values.update(over)
    return parameters(**{k: v for k, v in values.items() if v is not None})


def _signed(client, unique):
    w = world(client, unique)
    contract = post(client, "Contract", w.contract())
    assert contract.status_code == 201
    return w, contract.get_json()["id"]


def _count(client, query: str) -> int:
    return client.get(f"/fhir/{query}&_total=accurate").get_json()["total"]


def test_record_service_writes_encounter_and_two_card_provenance(client, unique):
    w, cid = _signed(client, unique)
    response = post(client, "Encounter/$record-service", _event(w, f"ev-{unique}"))
    assert response.status_code == 201, response.get_json()
    encounter = response.get_json()
    assert response.headers["Location"].startswith("http://testserver/fhir/Encounter/")
    assert encounter["subject"]["reference"] == f"Patient/{w.head}"
    assert encounter["participant"][0]["individual"]["reference"] == f"Practitioner/{w.doctor}"
    exts = {(e["url"], str(e.get("valueReference") or e["valueCodeableConcept"]["coding"][0]["code"]))
            for e in encounter["extension"]}
    assert (n.CONTRACT_EXT, str({"reference": f"Contract/{cid}"})) in exts
    assert (n.SERVICE_ITEM_EXT, "health-consultation") in exts
    assert encounter["identifier"] == [{"system": n.TWO_CARD_EVENT, "value": f"ev-{unique}"}]
    found = client.get(f"/fhir/Provenance?target=Encounter/{encounter['id']}").get_json()
    [provenance] = [e["resource"] for e in found["entry"]]
    cards = {a["who"]["reference"]: {p["url"]: p for p in a["extension"][0]["extension"]}
             for a in provenance["agent"] if a.get("extension")}
    assert cards[f"Patient/{w.head}"]["type"]["valueCoding"] == {"system": n.CARD_TYPE, "code": "resident-id-card"}
    assert cards[f"Patient/{w.head}"]["number"]["valueString"] == w.card(w.head)
    assert cards[f"Practitioner/{w.doctor}"]["number"]["valueString"] == w.doctor_card
    assert provenance["occurredDateTime"] == "2026-05-06T09:30:00+08:00"
    place = next(c for c in provenance["contained"] if c["resourceType"] == "Location")
    assert place["position"] == {"latitude": 30.27, "longitude": 120.15}
    fulfilment = client.get(f"/fhir/Contract/{cid}/$fulfilment?asOf=2026-06-01").get_json()
    delivered = {p["part"][0]["valueCoding"]["code"]: p["part"][2]["valueInteger"]
                 for p in fulfilment["parameter"] if p["name"] == "item"}
    assert delivered == {"health-consultation": 1, "health-education": 1}


def test_the_same_event_again_returns_the_same_record(client, unique):
    w, _ = _signed(client, unique)
    first = post(client, "Encounter/$record-service", _event(w, f"ev-{unique}"))
    again = post(client, "Encounter/$record-service", _event(w, f"ev-{unique}"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _count(client, f"Encounter?identifier={n.TWO_CARD_EVENT}|ev-{unique}") == 1
    assert _count(client, f"Provenance?target=Encounter/{first.get_json()['id']}") == 1


def test_cards_of_every_type_and_the_id_card_alias(client, unique):
    w, _ = _signed(client, unique)
    alias = world(client, unique + "a")
    alias_patient = client.get(f"/fhir/Patient/{alias.head}").get_json()
    alias_patient["identifier"] = [{"system": n.ID_CARD_ALIAS, "value": f"ALIAS{unique}"}]
    assert client.put(f"/fhir/Patient/{alias.head}", json=alias_patient, headers=JSON).status_code == 200
    assert post(client, "Contract", alias.contract()).status_code == 201
    social = _event(w, f"ev-ss-{unique}", residentCardType=("valueCode", "social-security-card"),
                    residentCardNumber=("valueString", f"S{w.head}"))
    assert post(client, "Encounter/$record-service", social).status_code == 201
    by_alias = _event(alias, f"ev-al-{unique}", residentCardNumber=("valueString", f"ALIAS{unique}"))
    assert post(client, "Encounter/$record-service", by_alias).status_code == 201


def _refused(client, body, rule: str | None, status: int = 422):
    response = post(client, "Encounter/$record-service", body)
    assert response.status_code == status, response.get_json()
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    if rule:
        assert rules(outcome) == [rule]
    return outcome


def test_refusals_write_nothing(client, unique):
    w, _ = _signed(client, unique)
    unsigned = world(client, unique + "u")
    cases = [
        (_event(w, f"ev1-{unique}", residentCardNumber=("valueString", "nobody")), "jiayi-two-card-resident-card"),
        (_event(w, f"ev2-{unique}", doctorCardNumber=("valueString", "nobody")), "jiayi-two-card-doctor-card"),
        (_event(w, f"ev3-{unique}", doctorCardNumber=("valueString", w.other_card)), "jiayi-two-card-team"),
        (_event(w, f"ev4-{unique}", item=[("valueCode", "family-bed")]), "jiayi-two-card-item"),
        (_event(w, f"ev5-{unique}", time=("valueDateTime", "2027-03-01T09:00:00+08:00")), "jiayi-two-card-contract"),
        (_event(unsigned, f"ev6-{unique}"), "jiayi-two-card-contract"),
    ]
    for body, rule in cases:
        _refused(client, body, rule)
    for k in range(1, 7):
        assert _count(client, f"Encounter?identifier={n.TWO_CARD_EVENT}|ev{k}-{unique}") == 0
    assert _count(client, f"Encounter?patient=Patient/{w.head}") == 0
    assert _count(client, f"Provenance?agent=Patient/{w.head}") == 0


def test_missing_or_malformed_parameters_are_400(client, unique):
    w, _ = _signed(client, unique)
    for name in ("eventId", "residentCardType", "residentCardNumber", "doctorCardNumber", "time", "item"):
        outcome = _refused(client, _event(w, f"ev-{name}-{unique}", **{name: None}), None, 400)
        assert name in outcome["issue"][0].get("expression", []) or name in outcome["issue"][0]["diagnostics"]
    _refused(client, _event(w, f"ev-t-{unique}", residentCardType=("valueCode", "library-card")), None, 400)
    _refused(client, _event(w, f"ev-z-{unique}", time=("valueDateTime", "2026-05-06T09:30:00")), None, 400)
    _refused(client, _event(w, f"ev-g-{unique}", latitude=None), None, 400)
    _refused(client, _event(w, f"ev-l-{unique}", latitude=("valueDecimal", 123)), None, 400)
    assert client.get(f"/fhir/Encounter/$record-service?eventId=x-{unique}").status_code == 405


def test_institution_requiring_confirmation_gets_a_task(client, unique):
    w, _ = _signed(client, unique)
    org = organization(w.org, extension=[{"url": n.SD + "jiayi-service-confirmation-days", "valuePositiveInt": 7}])
    assert client.put(f"/fhir/Organization/{w.org}", json=org, headers=JSON).status_code == 200
    encounter = post(client, "Encounter/$record-service", _event(w, f"ev-{unique}")).get_json()
    tasks = client.get(f"/fhir/Task?focus=Encounter/{encounter['id']}").get_json()
    [task] = [e["resource"] for e in tasks["entry"]]
    assert task["status"] == "requested" and task["owner"]["reference"] == f"Patient/{w.head}"
    assert task["restriction"]["period"]["end"] == "2026-05-13T09:30:00+08:00"
